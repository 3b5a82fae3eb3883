import type { Admin } from 'kafkajs';
import type { Pool } from 'pg';
import type { Logger } from '@sluice/observability';
import type { ProjectorMetrics } from './metrics';
import type { TargetResolver } from './targets';

/**
 * Lag per partition between batches: batches report their own lag, but a
 * partition that gets no batch (stuck, or the consumer gone) would keep its
 * last value. Every interval this compares the high watermarks with the
 * stored checkpoints of the live versions on the partitions this member owns:
 * records behind, and seconds since the checkpoint last moved while behind.
 */
export class LagMonitor {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;

  constructor(
    private readonly options: {
      admin: Admin;
      pool: Pool;
      topic: string;
      targets: TargetResolver;
      metrics: ProjectorMetrics;
      owned: () => number[];
      logger: Logger;
      intervalMs: number;
      clock?: () => number;
    },
  ) {}

  start(): void {
    this.timer = setInterval(() => {
      this.running ??= this.sample().finally(() => (this.running = undefined));
    }, this.options.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }

  async sample(): Promise<void> {
    const { admin, pool, topic, metrics } = this.options;
    const owned = new Set(this.options.owned());
    if (owned.size === 0) return;
    try {
      const [offsets, targets] = await Promise.all([admin.fetchTopicOffsets(topic), this.options.targets.peek(pool)]);
      const high = new Map(offsets.map((o) => [o.partition, BigInt(o.high)]));
      const { rows } = await pool.query<{ projection: string; partition: number; next_offset: string; updated_at: Date }>(
        `SELECT c.projection, c.partition, c.next_offset, c.updated_at FROM projection_checkpoints c
         JOIN unnest($1::text[], $2::int4[]) AS t(projection, version) ON t.projection = c.projection AND t.version = c.version
         WHERE c.topic = $3`,
        [targets.map((t) => t.projection), targets.map((t) => t.version), topic],
      );
      const now = (this.options.clock ?? Date.now)();
      for (const r of rows) {
        if (!owned.has(r.partition)) continue;
        const h = high.get(r.partition) ?? 0n;
        const next = BigInt(r.next_offset);
        const lag = h > next ? Number(h - next) : 0;
        const labels = { projection: r.projection, topic, partition: String(r.partition) };
        metrics.lagRecords.set(labels, lag);
        metrics.lagSeconds.set(labels, lag > 0 ? Math.max(0, (now - r.updated_at.getTime()) / 1000) : 0);
      }
    } catch (err) {
      this.options.logger.debug({ err }, 'lag sample failed');
    }
  }
}
