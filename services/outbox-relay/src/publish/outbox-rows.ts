import { types as pgTypes, type FieldDef } from 'pg';
import type { OutboxRecord } from './outbox-record';

/**
 * Outbox rows read from the table with SQL (the polling relay, and the WAL
 * relay republishing after a lost slot), turned into the same records the WAL
 * gives: a consumer must not tell which way an event came.
 */
export interface OutboxRow {
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
 * Query types for reading rows: timestamps as PostgreSQL prints them in UTC
 * ("2026-01-01 00:00:00.5+00", under SET LOCAL TimeZone = 'UTC') rather than
 * as a Date, which would drop the microseconds that WAL mode and Debezium put
 * in a timestamp header.
 */
export const TEXT_TIMESTAMPS = {
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

/** A row read with TEXT_TIMESTAMPS as the record the relay publishes; `fields` are the query's. */
export function recordOfRow(row: OutboxRow, fields: readonly FieldDef[], headerColumns: readonly string[]): OutboxRecord {
  const headers: Record<string, string> = {};
  for (const col of headerColumns) {
    const v = row[col];
    const zoned = fields.some((f) => f.name === col && f.dataTypeID === TIMESTAMPTZ_OID);
    if (typeof v === 'string') headers[col] = zoned ? zonedFromUtcText(v) : v;
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
