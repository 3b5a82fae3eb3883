import { setTimeout as sleep } from 'node:timers/promises';
import { types as pgTypes, type Pool } from 'pg';
import { quoteIdent } from '@sluice/db';
import type { Logger } from '@sluice/observability';
import type { RelayMetrics } from '../metrics';
import type { OutboxRecord } from '../publish/outbox-record';
import type { RecordPublisher } from '../publish/publisher';
import type { OutboxSource } from '../source';

export interface PollingSourceOptions {
  table: { schema: string; name: string };
  headerColumns: string[];
  batchSize: number;
  pollIntervalMs: number;
}

interface OutboxRow {
  id: string;
  aggregatetype: string;
  aggregateid: string;
  type: string;
  payload: Buffer;
  timestamp: string | null;
  [column: string]: unknown;
}

const TIMESTAMPTZ_OID = 1184;

/**
 * Timestamps are read as PostgreSQL prints them in UTC ("2026-01-01 00:00:00.5+00")
 * rather than as a Date, which would drop the microseconds that WAL mode and
 * Debezium put in a timestamp header.
 */
const textTimestamps = {
  getTypeParser: (oid: number, format?: 'text' | 'binary') =>
    oid === TIMESTAMPTZ_OID
      ? (value: string) => value
      : (pgTypes.getTypeParser(oid, format ?? 'text') as (value: string) => unknown),
};

/** "2026-01-01 00:00:00.5+00" (UTC) → "2026-01-01T00:00:00.500000Z", Debezium's ZonedTimestamp. */
export function zonedFromUtcText(text: string): string {
  const m = /^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2})(?:\.(\d{1,6}))?\+00$/.exec(text);
  if (!m) throw new Error(`not a UTC timestamp: ${text}`);
  return `${m[1]!}T${m[2]!}.${(m[3] ?? '').padEnd(6, '0')}Z`;
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
        types: textTimestamps,
      });
      if (rows.length > 0) {
        const zoned = new Set(fields.filter((f) => f.dataTypeID === TIMESTAMPTZ_OID).map((f) => f.name));
        this.metrics.recordsInFlight.set(rows.length);
        await this.publisher.publish(rows.map((r) => this.toRecord(r, zoned)));
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

  private toRecord(row: OutboxRow, zoned: ReadonlySet<string>): OutboxRecord {
    const headers: Record<string, string> = {};
    for (const col of this.options.headerColumns) {
      const v = row[col];
      if (typeof v === 'string') headers[col] = zoned.has(col) ? zonedFromUtcText(v) : v;
      else if (typeof v === 'number' || typeof v === 'bigint') headers[col] = String(v);
    }
    const ts = row.timestamp === null ? undefined : Date.parse(zonedFromUtcText(row.timestamp));
    return {
      id: row.id,
      aggregateType: row.aggregatetype,
      aggregateId: row.aggregateid,
      type: row.type,
      payload: row.payload,
      timestampMs: ts,
      headers,
      committedAtMs: ts ?? Date.now(),
    };
  }
}
