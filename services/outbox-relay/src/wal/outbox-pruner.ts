import type { Pool } from 'pg';
import { quoteIdent } from '@sluice/db';
import type { Logger } from '@sluice/observability';
import { parseLsn, type Lsn } from '@sluice/outbox';
import type { RelayMetrics } from '../metrics';

export interface PrunerOptions {
  table: { schema: string; name: string };
  /** How often to prune; 0 = never. */
  intervalMs: number;
  /** Rows per DELETE, each its own short transaction. */
  batch: number;
}

/** A snapshot and a WAL position past the commit record of every transaction visible in it. */
interface Mark {
  snapshot: string;
  lsn: Lsn;
}

/** The retained-rows gauge counts this many at most, so a large backlog costs a bounded scan. */
const COUNT_CAP = 100_000;

/**
 * Deletes the outbox rows of WAL mode once their publication is confirmed.
 *
 * Neither `seq` nor `id` is commit order: a transaction that took a lower seq
 * can commit after one with a higher seq. So the pruner never prunes "up to a
 * seq". It takes a mark (a snapshot S, then W = pg_current_wal_insert_lsn()):
 * a transaction visible in S had its commit record written before S was taken,
 * so before W. Once the relay has confirmed W (every transaction committed
 * before W acknowledged by Kafka, its checkpoint saved), the rows whose writing
 * transaction (xact_id) is visible in S are published, and only those are
 * deleted. A row committed late, out of seq order, is not visible in S and
 * stays until a later mark covers it.
 *
 * `confirmed` must be the position this relay confirmed from its own
 * acknowledgements in this session, never the slot's: a slot recreated by
 * someone else starts ahead of what the relay published.
 */
export class OutboxPruner {
  private mark: Mark | undefined;
  private running = false;
  private lastRunAt = 0;
  private generation = 0;
  private readonly table: string;

  constructor(
    private readonly options: PrunerOptions,
    private readonly pool: Pool,
    private readonly metrics: RelayMetrics,
    private readonly logger: Logger,
  ) {
    this.table = `${quoteIdent(options.table.schema)}.${quoteIdent(options.table.name)}`;
  }

  /** Forgets the mark: a new session (or a new slot) confirms from scratch. */
  reset(): void {
    this.mark = undefined;
    this.generation++;
  }

  /** Called on the status tick with the session's saved confirmed position; one run at a time. */
  tick(confirmed: Lsn): void {
    if (this.options.intervalMs <= 0 || this.running || Date.now() - this.lastRunAt < this.options.intervalMs) return;
    this.running = true;
    this.lastRunAt = Date.now();
    this.run(confirmed)
      .catch((err: unknown) => this.logger.warn({ err: String(err) }, 'pruning the outbox failed; trying again'))
      .finally(() => (this.running = false));
  }

  /** One round: prune behind the mark if confirmed, take the next mark, measure what is left. */
  async run(confirmed: Lsn): Promise<number> {
    const generation = this.generation;
    let pruned = 0;
    if (this.mark && confirmed >= this.mark.lsn) {
      pruned = await this.prune(this.mark.snapshot, () => generation === this.generation);
      this.mark = undefined;
    }
    if (!this.mark && generation === this.generation) this.mark = await this.takeMark();
    await this.measure();
    return pruned;
  }

  private async takeMark(): Promise<Mark> {
    // One statement: the snapshot is the statement's, taken before the insert position is read.
    const { rows } = await this.pool.query<{ snapshot: string; lsn: string }>(
      'SELECT pg_current_snapshot()::text AS snapshot, pg_current_wal_insert_lsn()::text AS lsn',
    );
    return { snapshot: rows[0]!.snapshot, lsn: parseLsn(rows[0]!.lsn) };
  }

  /** Deletes the rows visible in the snapshot, a batch per statement, oldest first. */
  private async prune(snapshot: string, current: () => boolean): Promise<number> {
    let total = 0;
    for (;;) {
      if (!current()) break;
      const { rowCount } = await this.pool.query(
        `DELETE FROM ${this.table} WHERE id IN (
           SELECT id FROM ${this.table}
            WHERE pg_visible_in_snapshot(xact_id::text::xid8, $1::pg_snapshot)
            ORDER BY seq LIMIT $2)`,
        [snapshot, this.options.batch],
      );
      const n = rowCount ?? 0;
      total += n;
      this.metrics.pruned.inc(n);
      if (n < this.options.batch) break;
    }
    return total;
  }

  private async measure(): Promise<void> {
    const { rows } = await this.pool.query<{ n: number; age: number | null }>(
      `SELECT (SELECT count(*)::int FROM (SELECT 1 FROM ${this.table} LIMIT ${COUNT_CAP}) t) AS n,
              (SELECT extract(epoch FROM now() - timestamp)::float8 FROM ${this.table} ORDER BY seq LIMIT 1) AS age`,
    );
    this.metrics.retainedRows.set(rows[0]?.n ?? 0);
    this.metrics.oldestRetainedSeconds.set(Math.max(0, rows[0]?.age ?? 0));
  }
}
