import type { Queryable } from '@sluice/projection-kit';
import type { RawRecord } from '../engine/records';
import type { VersionRef } from './checkpoints';

export type ParkedState = 'dead' | 'held' | 'resolved';
export type Resolution = 'redriven' | 'skipped' | 'duplicate';

export interface ParkedInsert extends VersionRef {
  readonly consumerGroup: string;
  readonly topic: string;
  readonly partition: number;
  readonly raw: RawRecord;
  readonly key: string | undefined;
  readonly eventType: string | undefined;
  readonly aggregateVersion: number | undefined;
  readonly state: 'dead' | 'held';
  readonly code: string;
  readonly reason: string;
  readonly attempts: number;
}

export interface ParkedEntry extends VersionRef {
  readonly id: number;
  readonly consumerGroup: string;
  readonly topic: string;
  readonly partition: number;
  readonly raw: RawRecord;
  readonly key: string | null;
  readonly eventType: string | null;
  readonly aggregateVersion: number | null;
  readonly state: ParkedState;
  readonly code: string;
  readonly reason: string;
  readonly attempts: number;
  readonly firstFailedAt: Date;
  readonly lastFailedAt: Date;
  readonly resolvedAt: Date | null;
  readonly resolution: Resolution | null;
}

interface Row {
  id: string;
  projection: string;
  version: number;
  consumer_group: string;
  topic: string;
  partition: number;
  offset: string;
  key: string | null;
  event_type: string | null;
  aggregate_version: number | null;
  value: Buffer | null;
  headers: Record<string, string[]>;
  record_timestamp: Date | null;
  state: ParkedState;
  error_code: string;
  error_reason: string;
  attempts: number;
  first_failed_at: Date;
  last_failed_at: Date;
  resolved_at: Date | null;
  resolution: Resolution | null;
}

function toEntry(r: Row): ParkedEntry {
  return {
    id: Number(r.id),
    projection: r.projection,
    version: r.version,
    consumerGroup: r.consumer_group,
    topic: r.topic,
    partition: r.partition,
    raw: {
      offset: BigInt(r.offset),
      key: r.key === null ? null : Buffer.from(r.key, 'utf8'),
      value: r.value,
      headers: Object.fromEntries(Object.entries(r.headers).map(([k, vs]) => [k, vs.map((v) => Buffer.from(v, 'base64'))])),
      timestamp: r.record_timestamp,
    },
    key: r.key,
    eventType: r.event_type,
    aggregateVersion: r.aggregate_version,
    state: r.state,
    code: r.error_code,
    reason: r.error_reason,
    attempts: r.attempts,
    firstFailedAt: r.first_failed_at,
    lastFailedAt: r.last_failed_at,
    resolvedAt: r.resolved_at,
    resolution: r.resolution,
  };
}

/**
 * One statement for all of a batch's parked records: parking is rare, but an
 * upstream fault (records out of order, a schema gone) can park whole batches,
 * and the partition must keep moving then too.
 */
export async function insertParked(db: Queryable, rows: readonly ParkedInsert[]): Promise<void> {
  if (rows.length === 0) return;
  const col = <T>(f: (p: ParkedInsert) => T): T[] => rows.map(f);
  await db.query(
    `INSERT INTO projection_parked (projection, version, consumer_group, topic, partition, "offset", key, event_type,
       aggregate_version, value, headers, record_timestamp, state, error_code, error_reason, attempts)
     SELECT * FROM unnest($1::varchar[], $2::int4[], $3::varchar[], $4::varchar[], $5::int4[], $6::int8[], $7::text[], $8::varchar[],
       $9::int4[], $10::bytea[], $11::jsonb[], $12::timestamptz[], $13::varchar[], $14::varchar[], $15::text[], $16::int4[])
     ON CONFLICT (projection, version, topic, partition, "offset") DO NOTHING`,
    [
      col((p) => p.projection),
      col((p) => p.version),
      col((p) => p.consumerGroup),
      col((p) => p.topic),
      col((p) => p.partition),
      col((p) => p.raw.offset.toString()),
      col((p) => p.key ?? null),
      col((p) => p.eventType ?? null),
      col((p) => p.aggregateVersion ?? null),
      col((p) => p.raw.value),
      col((p) =>
        JSON.stringify(
          Object.fromEntries(Object.entries(p.raw.headers).map(([k, vs]) => [k, vs.map((v) => v.toString('base64'))])),
        ),
      ),
      col((p) => p.raw.timestamp?.toISOString() ?? null),
      col((p) => p.state),
      col((p) => p.code),
      col((p) => p.reason.slice(0, 4_000)),
      col((p) => p.attempts),
    ],
  );
}

export interface ParkedFilter {
  projection?: string;
  version?: number;
  key?: string;
  states?: readonly ParkedState[];
  limit?: number;
}

export async function listParked(db: Queryable, filter: ParkedFilter): Promise<ParkedEntry[]> {
  const { rows } = await db.query<Row>(
    `SELECT * FROM projection_parked
     WHERE ($1::text IS NULL OR projection = $1) AND ($2::int4 IS NULL OR version = $2) AND ($3::text IS NULL OR key = $3)
       AND state = ANY($4::text[])
     ORDER BY projection, version, partition, "offset" LIMIT $5`,
    [
      filter.projection ?? null,
      filter.version ?? null,
      filter.key ?? null,
      filter.states ?? ['dead', 'held'],
      filter.limit ?? 1_000,
    ],
  );
  return rows.map(toEntry);
}

export async function getParked(db: Queryable, id: number): Promise<ParkedEntry | undefined> {
  const { rows } = await db.query<Row>('SELECT * FROM projection_parked WHERE id = $1', [id]);
  return rows[0] && toEntry(rows[0]);
}

/** The open records of one key, oldest first, locked for a re-drive. */
export async function lockOpenForKey(db: Queryable, ref: VersionRef, key: string): Promise<ParkedEntry[]> {
  const { rows } = await db.query<Row>(
    `SELECT * FROM projection_parked WHERE projection = $1 AND version = $2 AND key = $3 AND state <> 'resolved'
     ORDER BY partition, "offset" FOR UPDATE`,
    [ref.projection, ref.version, key],
  );
  return rows.map(toEntry);
}

export async function resolveParked(db: Queryable, ids: readonly number[], resolution: Resolution): Promise<void> {
  if (ids.length === 0) return;
  await db.query(
    `UPDATE projection_parked SET state = 'resolved', resolution = $2, resolved_at = now() WHERE id = ANY($1::int8[])`,
    [ids, resolution],
  );
}

/** A re-drive that failed again: the record stays (or becomes) the dead one of its key. */
export async function markDead(db: Queryable, id: number, code: string, reason: string): Promise<void> {
  await db.query(
    `UPDATE projection_parked SET state = 'dead', error_code = $2, error_reason = $3, attempts = attempts + 1, last_failed_at = now()
     WHERE id = $1`,
    [id, code, reason.slice(0, 4_000)],
  );
}

export async function countOpenParked(
  db: Queryable,
): Promise<{ projection: string; version: number; state: string; count: number }[]> {
  const { rows } = await db.query<{ projection: string; version: number; state: string; count: string }>(
    `SELECT projection, version, state, count(*) AS count FROM projection_parked WHERE state <> 'resolved'
     GROUP BY projection, version, state`,
  );
  return rows.map((r) => ({ ...r, count: Number(r.count) }));
}
