import type { Pool } from 'pg';
import { quoteIdent } from '@sluice/db';
import type { RelayMetrics } from '../metrics';
import { recordOfRow, TEXT_TIMESTAMPS, type OutboxRow } from '../publish/outbox-rows';
import type { RecordPublisher } from '../publish/publisher';

export interface RepublisherOptions {
  table: { schema: string; name: string };
  headerColumns: string[];
  /** Rows read and published per batch; one batch in flight at a time. */
  batch: number;
}

/**
 * Publishes every row the outbox table still holds, in `seq` order, after a
 * lost slot was replaced and before the new slot streams. The rows the pruner
 * left are exactly those whose publication the relay never confirmed (and a
 * few it published but had not pruned yet: those come twice; consumers dedupe
 * by event id).
 *
 * The rows are read from one snapshot (a REPEATABLE READ transaction, taken
 * after the new slot exists): every transaction that committed before the new
 * slot's start is in it, every later one comes from the new slot. Reading in
 * several snapshots could miss a row of a key with a lower seq that committed
 * between two reads while its successor with a higher seq was read, and the
 * stream would then deliver them out of order. In one snapshot a key's rows
 * come out in seq order, which writers make their commit order (they number
 * them after locking the aggregate), and before anything the new slot sends.
 */
export class OutboxRepublisher {
  private readonly select: string;

  constructor(
    private readonly options: RepublisherOptions,
    private readonly pool: Pool,
    private readonly publisher: RecordPublisher,
    private readonly metrics: RelayMetrics,
  ) {
    const table = `${quoteIdent(options.table.schema)}.${quoteIdent(options.table.name)}`;
    this.select = `SELECT * FROM ${table} WHERE seq > $1 ORDER BY seq LIMIT $2`;
  }

  /** Rows published, or undefined when `stopped()` turned true first (the next session starts over). */
  async republish(stopped: () => boolean): Promise<number | undefined> {
    const client = await this.pool.connect();
    let broken: Error | undefined;
    let published = 0;
    try {
      await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      await client.query(`SET LOCAL TimeZone = 'UTC'`);
      let after = 0;
      for (;;) {
        if (stopped()) {
          await client.query('ROLLBACK');
          return undefined;
        }
        const { rows, fields } = await client.query<OutboxRow & { seq: string }>({
          text: this.select,
          values: [after, this.options.batch],
          types: TEXT_TIMESTAMPS,
        });
        if (rows.length === 0) break;
        await this.publisher.publish(rows.map((r) => recordOfRow(r, fields, this.options.headerColumns)));
        published += rows.length;
        this.metrics.republished.inc(rows.length);
        after = Number(rows[rows.length - 1]!.seq);
        if (rows.length < this.options.batch) break;
      }
      await client.query('COMMIT');
      return published;
    } catch (err) {
      await client.query('ROLLBACK').catch((e: Error) => (broken = e));
      throw err;
    } finally {
      client.release(broken);
    }
  }
}
