import { setTimeout as sleep } from 'node:timers/promises';
import type { Pool } from 'pg';
import { quoteIdent } from '@sluice/db';
import type { Logger } from '@sluice/observability';
import type { RelayMetrics } from '../metrics';
import { recordOfRow, TEXT_TIMESTAMPS, type OutboxRow } from '../publish/outbox-rows';
import type { RecordPublisher } from '../publish/publisher';
import type { OutboxSource } from '../source';

export { zonedFromUtcText } from '../publish/outbox-rows';

export interface PollingSourceOptions {
  table: { schema: string; name: string };
  headerColumns: string[];
  batchSize: number;
  pollIntervalMs: number;
}

/**
 * For databases without logical replication: the writers keep their outbox
 * rows (OUTBOX_MODE=polling) and the leading relay takes them in `seq` order,
 * a batch at a time, locked FOR UPDATE SKIP LOCKED inside one transaction;
 * publishes them; deletes them; commits. A crash before the commit leaves the
 * rows in place, so they are published again (at least once, never lost).
 * A key's events keep their order because writers number them after locking
 * the aggregate's row.
 */
export class PollingSource implements OutboxSource {
  private running = false;
  private interrupted = false;
  private wake: (() => void) | undefined;
  private readonly select: string;
  private readonly remove: string;

  constructor(
    private readonly options: PollingSourceOptions,
    private readonly pool: Pool,
    private readonly publisher: RecordPublisher,
    private readonly metrics: RelayMetrics,
    private readonly logger: Logger,
  ) {
    const table = `${quoteIdent(options.table.schema)}.${quoteIdent(options.table.name)}`;
    this.select = `SELECT * FROM ${table} ORDER BY seq LIMIT $1 FOR UPDATE SKIP LOCKED`;
    this.remove = `DELETE FROM ${table} WHERE id = ANY($1::uuid[])`;
  }

  get streaming(): boolean {
    return this.running;
  }

  async session(): Promise<void> {
    this.interrupted = false;
    this.running = true;
    this.logger.info({ table: this.options.table }, 'polling the outbox table');
    try {
      while (!this.interrupted) {
        const taken = await this.pollOnce();
        if (taken < this.options.batchSize && !this.interrupted) {
          await Promise.race([sleep(this.options.pollIntervalMs), new Promise<void>((r) => (this.wake = r))]);
        }
      }
    } finally {
      this.running = false;
    }
  }

  async interrupt(): Promise<void> {
    this.interrupted = true;
    this.wake?.();
  }

  tick(): void {
    void this.pool
      .query<{
        n: string;
        oldest: Date | null;
      }>(
        `SELECT count(*)::text AS n, min(timestamp) AS oldest FROM ${quoteIdent(this.options.table.schema)}.${quoteIdent(this.options.table.name)}`,
      )
      .then(
        ({ rows }) => {
          this.metrics.pollingBacklog.set(Number(rows[0]?.n ?? 0));
          const oldest = rows[0]?.oldest;
          this.metrics.lagSeconds.set(oldest ? Math.max(0, (Date.now() - oldest.getTime()) / 1000) : 0);
        },
        () => undefined,
      );
  }

  /** One transaction: lock a batch, publish it, delete it. Returns how many rows it took. */
  private async pollOnce(): Promise<number> {
    const client = await this.pool.connect();
    let broken: Error | undefined;
    try {
      await client.query('BEGIN');
      await client.query(`SET LOCAL TimeZone = 'UTC'`);
      const { rows, fields } = await client.query<OutboxRow>({
        text: this.select,
        values: [this.options.batchSize],
        types: TEXT_TIMESTAMPS,
      });
      if (rows.length > 0) {
        this.metrics.recordsInFlight.set(rows.length);
        await this.publisher.publish(rows.map((r) => recordOfRow(r, fields, this.options.headerColumns)));
        await client.query(this.remove, [rows.map((r) => r.id)]);
      }
      await client.query('COMMIT');
      this.metrics.recordsInFlight.set(0);
      return rows.length;
    } catch (err) {
      await client.query('ROLLBACK').catch((e: Error) => (broken = e));
      throw err;
    } finally {
      client.release(broken);
    }
  }
}
