import type { Pool } from 'pg';
import type { Logger } from '@sluice/observability';
import type { ProjectionDefinition } from '@sluice/projection-kit';
import type { SnapshotMetrics } from './metrics';
import { listSnapshots, pruneSnapshots, takeSnapshot } from './store';

export interface SnapshotSchedulerOptions {
  readonly pool: Pool;
  readonly projections: readonly ProjectionDefinition[];
  readonly topic: string;
  /** A projection whose newest snapshot is this old gets a new one. */
  readonly intervalMs: number;
  readonly keep: number;
  readonly metrics: SnapshotMetrics;
  readonly logger: Logger;
  /** How often the catalog is looked at; a minute by default. */
  readonly checkMs?: number;
  readonly now?: () => number;
}

/**
 * Snapshots each live projection once its newest snapshot is `intervalMs`
 * old. The age is read from the catalog, so replicas share one schedule; two
 * that decide at once are kept apart by the snapshot lock (the second gets
 * `busy` and sees the first's snapshot next time). Stopping aborts a snapshot
 * in flight: its transaction rolls back and leaves nothing.
 */
export class SnapshotScheduler {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private readonly abort = new AbortController();

  constructor(private readonly options: SnapshotSchedulerOptions) {}

  start(): void {
    const every = this.options.checkMs ?? 60_000;
    const loop = () => {
      this.running = this.tick().finally(() => {
        if (!this.abort.signal.aborted) this.timer = setTimeout(loop, every);
      });
    };
    // Not at start-up: a projector that just started is usually catching up, and the catalog says what is due anyway.
    this.timer = setTimeout(loop, every);
  }

  async stop(): Promise<void> {
    this.abort.abort();
    clearTimeout(this.timer);
    await this.running;
  }

  /** One look at every projection: snapshot those due, prune, refresh the metrics. */
  async tick(): Promise<void> {
    const { pool, projections, topic, intervalMs, keep, metrics, logger } = this.options;
    const now = this.options.now ?? Date.now;
    for (const def of projections) {
      if (this.abort.signal.aborted) return;
      try {
        const newest = (await listSnapshots(pool, def.name))[0];
        if (newest) metrics.newest(newest);
        if (newest && now() - newest.createdAt.getTime() < intervalMs) continue;
        logger.info({ projection: def.name }, 'taking a read-model snapshot');
        const taken = await takeSnapshot(pool, def, topic, {
          signal: this.abort.signal,
          onProgress: (line) => logger.info({ projection: def.name }, `snapshot: ${line}`),
        });
        if (!taken) {
          metrics.taken.inc({ projection: def.name, outcome: 'busy' });
          continue;
        }
        metrics.taken.inc({ projection: def.name, outcome: 'taken' });
        metrics.newest(taken);
        const pruned = await pruneSnapshots(pool, def.name, keep);
        logger.info(
          { projection: def.name, snapshot: taken.id, records: taken.records, bytes: taken.bytes, ms: taken.durationMs, pruned },
          'read-model snapshot taken',
        );
      } catch (err) {
        if (this.abort.signal.aborted) return;
        metrics.taken.inc({ projection: def.name, outcome: 'failed' });
        logger.warn({ projection: def.name, err }, 'read-model snapshot failed; tried again at the next check');
      }
    }
  }
}
