import type { Pool } from 'pg';
import { Gauge, type Registry } from 'prom-client';
import { partitionForKey } from '@sluice/messaging';
import { liveCheckpoints } from '@sluice/projection-kit';

export interface Lag {
  /** Records between the read model and the end of the key's partition, as of the projector's last batch. */
  readonly records: number;
  /** How far behind the partition's newest record the read model is, ms (0 when caught up). */
  readonly ms: number;
}

interface PartitionState {
  readonly lagRecords: number;
  readonly lastRecordAt: number | null;
  readonly updatedAt: number;
}

interface ProjectionState {
  readonly schema: string;
  readonly partitions: PartitionState[];
}

/**
 * How fresh each live read model is, from the projector's checkpoint rows
 * (it writes each partition's lag in the transaction of every batch), loaded
 * at most every `refreshMs`. Also knows each projection's live schema.
 * Readers put the lag of the key's partition in a response header; the
 * gauges carry the worst partition's.
 */
export class Freshness {
  private state = new Map<string, ProjectionState>();
  private loadedAt = 0;
  private loading: Promise<void> | undefined;
  private readonly lagSeconds: Gauge<'projection'>;
  private readonly lagRecords: Gauge<'projection'>;

  constructor(
    private readonly pool: Pool,
    private readonly topic: string,
    private readonly refreshMs: number,
    registry: Registry,
    private readonly clock: () => number = Date.now,
  ) {
    this.lagSeconds = new Gauge({
      name: 'sluice_query_read_model_lag_seconds',
      help: 'How far the read model is behind the newest event on its worst partition, seconds',
      labelNames: ['projection'],
      registers: [registry],
    });
    this.lagRecords = new Gauge({
      name: 'sluice_query_read_model_lag_records',
      help: 'Events not yet in the read model, summed over partitions, as the projector last reported',
      labelNames: ['projection'],
      registers: [registry],
    });
  }

  /** The lag of the key's partition; undefined while unknown (no projector tables yet). */
  async lagOf(projection: string, key: string): Promise<Lag | undefined> {
    await this.refresh();
    const s = this.state.get(projection);
    if (!s || s.partitions.length === 0) return undefined;
    const p = s.partitions[partitionForKey(key, s.partitions.length)];
    return p && this.lagFrom(p);
  }

  async liveSchema(projection: string): Promise<string | undefined> {
    await this.refresh();
    return this.state.get(projection)?.schema;
  }

  /** The next read reloads (a switch of the live version). */
  invalidate(): void {
    this.loadedAt = 0;
  }

  private lagFrom(p: PartitionState): Lag {
    if (p.lagRecords <= 0) return { records: 0, ms: 0 };
    // Behind at the last batch: still behind since then, at least by the time passed.
    const since = p.lastRecordAt ?? p.updatedAt;
    return { records: p.lagRecords, ms: Math.max(0, this.clock() - since) };
  }

  private async refresh(): Promise<void> {
    if (this.clock() - this.loadedAt < this.refreshMs) return;
    this.loading ??= this.load().finally(() => (this.loading = undefined));
    await this.loading;
  }

  private async load(): Promise<void> {
    try {
      const next = new Map<string, ProjectionState>();
      for (const c of await liveCheckpoints(this.pool, this.topic)) {
        let s = next.get(c.projection);
        if (!s) next.set(c.projection, (s = { schema: c.schema, partitions: [] }));
        s.partitions[c.partition] = {
          lagRecords: c.lagRecords,
          lastRecordAt: c.lastRecordAt?.getTime() ?? null,
          updatedAt: c.updatedAt.getTime(),
        };
      }
      this.state = next;
      this.lagSeconds.reset();
      this.lagRecords.reset();
      for (const [projection, s] of next) {
        const lags = s.partitions.filter(Boolean).map((p) => this.lagFrom(p));
        this.lagSeconds.set({ projection }, Math.max(0, ...lags.map((l) => l.ms)) / 1000);
        this.lagRecords.set(
          { projection },
          lags.reduce((n, l) => n + l.records, 0),
        );
      }
    } catch {
      // No projector tables yet, or the database is away: freshness stays unknown; readiness reports the database.
    } finally {
      this.loadedAt = this.clock();
    }
  }
}
