import type { Queryable } from '@sluice/projection-kit';

/** A projection version the engine writes in a transaction. */
export interface VersionRef {
  readonly projection: string;
  readonly version: number;
}

export interface StoredPosition {
  readonly nextOffset: bigint;
  /** A bounded replay stops before this offset. */
  readonly endOffset: bigint | null;
}

const refKey = (projection: string, version: number): string => `${projection}/${version}`;

/**
 * Takes the row locks of the partition's checkpoints of every given version,
 * in one order (so two transactions never deadlock), and returns the stored
 * positions; a version never seen on the partition gets a row at offset 0.
 * Whoever else applies the same partition for these versions (a member that
 * lost it in a rebalance, a re-drive) queues behind these locks and then sees
 * what this transaction committed.
 */
export async function lockCheckpoints(
  db: Queryable,
  refs: readonly VersionRef[],
  topic: string,
  partition: number,
): Promise<Map<string, StoredPosition>> {
  return (await lockPartitionCheckpoints(db, refs, topic, [partition])).get(partition) ?? new Map();
}

/**
 * lockCheckpoints for several partitions in one statement: the rows are locked
 * in (partition, projection, version) order, the order every transaction
 * takes them in, one partition or many.
 */
export async function lockPartitionCheckpoints(
  db: Queryable,
  refs: readonly VersionRef[],
  topic: string,
  partitions: readonly number[],
): Promise<Map<number, Map<string, StoredPosition>>> {
  const select = () =>
    db.query<{ partition: number; projection: string; version: number; next_offset: string; end_offset: string | null }>(
      `SELECT c.partition, c.projection, c.version, c.next_offset, c.end_offset FROM projection_checkpoints c
       JOIN unnest($1::text[], $2::int4[]) AS r(projection, version) ON r.projection = c.projection AND r.version = c.version
       WHERE c.topic = $3 AND c.partition = ANY($4::int4[])
       ORDER BY c.partition, c.projection, c.version FOR UPDATE OF c`,
      [refs.map((r) => r.projection), refs.map((r) => r.version), topic, partitions],
    );
  let { rows } = await select();
  if (rows.length < refs.length * partitions.length) {
    // Insert first, so a partition's very first batch has rows to lock.
    await db.query(
      `INSERT INTO projection_checkpoints (projection, version, topic, partition, next_offset)
       SELECT r.projection, r.version, $3, p.partition, 0
       FROM unnest($1::text[], $2::int4[]) AS r(projection, version), unnest($4::int4[]) AS p(partition)
       ORDER BY p.partition, r.projection, r.version
       ON CONFLICT DO NOTHING`,
      [refs.map((r) => r.projection), refs.map((r) => r.version), topic, partitions],
    );
    ({ rows } = await select());
  }
  const out = new Map<number, Map<string, StoredPosition>>(partitions.map((p) => [p, new Map()]));
  for (const r of rows) {
    out.get(r.partition)!.set(refKey(r.projection, r.version), {
      nextOffset: BigInt(r.next_offset),
      endOffset: r.end_offset === null ? null : BigInt(r.end_offset),
    });
  }
  return out;
}

export function positionOf(stored: ReadonlyMap<string, StoredPosition>, ref: VersionRef): StoredPosition {
  return stored.get(refKey(ref.projection, ref.version)) ?? { nextOffset: 0n, endOffset: null };
}

export interface CheckpointAdvance extends VersionRef {
  readonly partition: number;
  readonly nextOffset: bigint;
  readonly lagRecords: number;
  readonly lastRecordAt: Date | null;
}

/** Moves checkpoints (of any partitions of the topic) past what a transaction applied, in one statement. */
export async function advanceCheckpoints(db: Queryable, topic: string, advances: readonly CheckpointAdvance[]): Promise<void> {
  if (advances.length === 0) return;
  await db.query(
    `UPDATE projection_checkpoints c SET next_offset = a.next_offset, lag_records = a.lag_records,
       last_record_at = COALESCE(a.last_record_at, c.last_record_at), updated_at = now()
     FROM unnest($1::text[], $2::int4[], $3::int4[], $4::int8[], $5::int8[], $6::timestamptz[])
       AS a(projection, version, partition, next_offset, lag_records, last_record_at)
     WHERE c.projection = a.projection AND c.version = a.version AND c.topic = $7 AND c.partition = a.partition`,
    [
      advances.map((a) => a.projection),
      advances.map((a) => a.version),
      advances.map((a) => a.partition),
      advances.map((a) => a.nextOffset.toString()),
      advances.map((a) => a.lagRecords),
      advances.map((a) => a.lastRecordAt?.toISOString() ?? null),
      topic,
    ],
  );
}

/** The stored next offsets of one version; partitions never seen are absent. */
export async function loadPositions(db: Queryable, ref: VersionRef, topic: string): Promise<Map<number, StoredPosition>> {
  const { rows } = await db.query<{ partition: number; next_offset: string; end_offset: string | null }>(
    'SELECT partition, next_offset, end_offset FROM projection_checkpoints WHERE projection = $1 AND version = $2 AND topic = $3',
    [ref.projection, ref.version, topic],
  );
  return new Map(
    rows.map((r) => [
      r.partition,
      { nextOffset: BigInt(r.next_offset), endOffset: r.end_offset === null ? null : BigInt(r.end_offset) },
    ]),
  );
}

/**
 * Creates the rows of partitions a version has not seen (at `start`, default
 * 0): readers count the rows to know the partitions, and a version started
 * from a timestamp must begin where the timestamp says, not at 0.
 */
export async function ensurePositions(
  db: Queryable,
  ref: VersionRef,
  topic: string,
  starts: ReadonlyMap<number, { start: bigint; end?: bigint | null }>,
): Promise<void> {
  if (starts.size === 0) return;
  const entries = [...starts];
  await db.query(
    `INSERT INTO projection_checkpoints (projection, version, topic, partition, next_offset, start_offset, end_offset)
     SELECT $1, $2, $3, p.partition, p.start, p.start, p.end_offset
     FROM unnest($4::int4[], $5::int8[], $6::int8[]) AS p(partition, start, end_offset)
     ON CONFLICT DO NOTHING`,
    [
      ref.projection,
      ref.version,
      topic,
      entries.map(([p]) => p),
      entries.map(([, s]) => s.start.toString()),
      entries.map(([, s]) => (s.end === undefined || s.end === null ? null : s.end.toString())),
    ],
  );
}
