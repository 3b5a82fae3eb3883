import type { Pool, PoolClient } from 'pg';
import {
  assertProjectionName,
  HEADS_TABLE,
  qualified,
  quoteIdent,
  type ProjectionDefinition,
  type Queryable,
} from '@sluice/projection-kit';
import { ensurePositions, type VersionRef } from '../store/checkpoints';
import { getVersion, liveVersion, type ProjectionVersion } from '../store/versions';
import { projectionFingerprint } from './fingerprint';

export interface Snapshot {
  readonly id: number;
  readonly projection: string;
  readonly version: number;
  readonly fingerprint: string;
  readonly schema: string;
  readonly topic: string;
  /** Partition → next offset to apply after the snapshot; a partition the version never applied is absent. */
  readonly offsets: ReadonlyMap<number, bigint>;
  readonly rowCounts: Readonly<Record<string, number>>;
  readonly records: number;
  readonly bytes: number;
  readonly durationMs: number;
  readonly createdAt: Date;
}

interface SnapshotRow {
  id: string;
  projection: string;
  version: number;
  fingerprint: string;
  schema_name: string;
  topic: string;
  offsets: Record<string, string>;
  row_counts: Record<string, number>;
  records: string;
  bytes: string;
  duration_ms: number;
  created_at: Date;
}

function toSnapshot(r: SnapshotRow): Snapshot {
  return {
    id: Number(r.id),
    projection: r.projection,
    version: r.version,
    fingerprint: r.fingerprint,
    schema: r.schema_name,
    topic: r.topic,
    offsets: new Map(Object.entries(r.offsets).map(([p, o]) => [Number(p), BigInt(o)])),
    rowCounts: r.row_counts,
    records: Number(r.records),
    bytes: Number(r.bytes),
    durationMs: r.duration_ms,
    createdAt: r.created_at,
  };
}

/** Parked records travel with the snapshot: a held key stays held in the restored version. */
const PARKED_COPY = 'parked';

/**
 * Taking, pruning and restoring serialise on this key: a restore never reads
 * a snapshot that retention is dropping, and two replicas never snapshot the
 * same projection at once.
 */
const snapshotLock = (projection: string): string => `sluice.projection-snapshot.${projection}`;

export function snapshotSchema(projection: string, id: number): string {
  return `projsnap_${assertProjectionName(projection)}_${id}`;
}

/** Newest first. */
export async function listSnapshots(db: Queryable, projection?: string): Promise<Snapshot[]> {
  const { rows } = await db.query<SnapshotRow>(
    `SELECT * FROM projection_snapshots WHERE $1::text IS NULL OR projection = $1 ORDER BY created_at DESC, id DESC`,
    [projection ?? null],
  );
  return rows.map(toSnapshot);
}

export interface TakeOptions {
  /** The version to copy; the live one by default. */
  readonly version?: number;
  /** A line per table copied, for the command's output and the logs. */
  readonly onProgress?: (line: string) => void;
  /** Aborting closes the connection: the transaction rolls back and nothing of the snapshot stays. */
  readonly signal?: AbortSignal;
}

/**
 * Copies a projection version's tables (the read model, the version guard's
 * heads and its open parked records) into a new schema and records the
 * version's checkpoints beside them, all in one REPEATABLE READ transaction:
 * every row copied and every offset recorded are as of the same instant, so a
 * batch committed meanwhile is in both or in neither. Live batches go on
 * while it copies (readers never block writers). Returns undefined when
 * another snapshot of the projection is being taken.
 */
export async function takeSnapshot(
  pool: Pool,
  def: ProjectionDefinition,
  topic: string,
  options: TakeOptions = {},
): Promise<Snapshot | undefined> {
  const started = performance.now();
  const progress = options.onProgress ?? (() => undefined);
  const client = await pool.connect();
  let released = false;
  const release = (err?: Error) => {
    if (released) return;
    released = true;
    client.release(err);
  };
  const onAbort = () => release(new Error('snapshot aborted'));
  options.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    // No statement timeout: copying a large read model takes as long as it takes.
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ; SET LOCAL statement_timeout = 0');
    try {
      const { rows: lock } = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_xact_lock(hashtext($1)) AS ok', [
        snapshotLock(def.name),
      ]);
      if (!lock[0]!.ok) {
        await client.query('ROLLBACK');
        return undefined;
      }
      const version = await snapshotVersion(client, def, options.version);
      const { rows: ids } = await client.query<{ id: string }>(
        `SELECT nextval(pg_get_serial_sequence('projection_snapshots', 'id')) AS id`,
      );
      const id = Number(ids[0]!.id);
      const schema = snapshotSchema(def.name, id);
      const { rows: checkpoints } = await client.query<{ partition: number; next_offset: string; end_offset: string | null }>(
        'SELECT partition, next_offset, end_offset FROM projection_checkpoints WHERE projection = $1 AND version = $2 AND topic = $3',
        [def.name, version.version, topic],
      );
      if (checkpoints.some((c) => c.end_offset !== null)) throw new Error(`${def.name} v${version.version} is a bounded replay`);
      await client.query(`CREATE SCHEMA ${quoteIdent(schema)}`);
      const rowCounts: Record<string, number> = {};
      for (const table of [...def.tables, HEADS_TABLE]) {
        const t0 = performance.now();
        const r = await client.query(
          `CREATE TABLE ${qualified(schema, table)} AS SELECT * FROM ${qualified(version.schema, table)}`,
        );
        rowCounts[table] = r.rowCount ?? 0;
        progress(`copied ${table}: ${rowCounts[table]} rows in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
      }
      // CREATE TABLE AS takes no parameters; the name is checked and the version is a number.
      const parked = await client.query(
        `CREATE TABLE ${qualified(schema, PARKED_COPY)} AS SELECT * FROM projection_parked
         WHERE projection = '${assertProjectionName(def.name)}' AND version = ${Number(version.version)} AND state <> 'resolved'`,
      );
      rowCounts[PARKED_COPY] = parked.rowCount ?? 0;
      const { rows: size } = await client.query<{ bytes: string }>(
        `SELECT COALESCE(sum(pg_total_relation_size(c.oid)), 0) AS bytes
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relkind = 'r'`,
        [schema],
      );
      const offsets = Object.fromEntries(checkpoints.map((c) => [String(c.partition), c.next_offset]));
      const records = checkpoints.reduce((n, c) => n + BigInt(c.next_offset), 0n);
      const durationMs = Math.round(performance.now() - started);
      const { rows } = await client.query<SnapshotRow>(
        `INSERT INTO projection_snapshots
           (id, projection, version, fingerprint, schema_name, topic, offsets, row_counts, records, bytes, duration_ms)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING *`,
        [
          id,
          def.name,
          version.version,
          projectionFingerprint(def),
          schema,
          topic,
          JSON.stringify(offsets),
          JSON.stringify(rowCounts),
          records.toString(),
          size[0]!.bytes,
          durationMs,
        ],
      );
      await client.query('COMMIT');
      return toSnapshot(rows[0]!);
    } catch (err) {
      if (!released) await client.query('ROLLBACK').catch(() => undefined);
      if (options.signal?.aborted) throw new Error(`snapshot of ${def.name} aborted`, { cause: err });
      throw err;
    }
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
    release();
  }
}

async function snapshotVersion(db: Queryable, def: ProjectionDefinition, version?: number): Promise<ProjectionVersion> {
  const v = version === undefined ? await liveVersion(db, def.name) : await getVersion(db, def.name, version);
  if (!v) throw new Error(version === undefined ? `${def.name} has no live version` : `${def.name} has no version ${version}`);
  // A version started from a time or over a range holds part of the history: restored, it would pass for all of it.
  if (v.origin === 'timestamp' || v.origin === 'range' || v.state === 'replay' || v.state === 'abandoned') {
    throw new Error(`${def.name} v${v.version} (${v.state}, from ${v.origin}) does not hold the whole history`);
  }
  return v;
}

/** Drops all but the newest `keep` snapshots of a projection; returns how many went. */
export async function pruneSnapshots(pool: Pool, projection: string, keep: number): Promise<number> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [snapshotLock(projection)]);
    const old = (await listSnapshots(client, projection)).slice(keep);
    for (const s of old) {
      await client.query(`DROP SCHEMA IF EXISTS ${quoteIdent(s.schema)} CASCADE`);
      await client.query('DELETE FROM projection_snapshots WHERE id = $1', [s.id]);
    }
    await client.query('COMMIT');
    return old.length;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}

export async function dropSnapshot(pool: Pool, id: number): Promise<Snapshot> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const { rows } = await client.query<SnapshotRow>('SELECT * FROM projection_snapshots WHERE id = $1', [id]);
    if (!rows[0]) throw new Error(`no snapshot ${id}`);
    const s = toSnapshot(rows[0]);
    await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [snapshotLock(s.projection)]);
    await client.query(`DROP SCHEMA IF EXISTS ${quoteIdent(s.schema)} CASCADE`);
    await client.query('DELETE FROM projection_snapshots WHERE id = $1', [id]);
    await client.query('COMMIT');
    return s;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}

export interface PartitionRange {
  readonly partition: number;
  readonly low: bigint;
  readonly high: bigint;
}

export interface SnapshotChoice {
  /** The newest snapshot a rebuild of this fold can start from, if any. */
  readonly snapshot: Snapshot | undefined;
  /** Newer snapshots passed over, and why. */
  readonly refused: readonly { readonly id: number; readonly reason: string }[];
}

/**
 * Why a snapshot cannot seed a new version of `def` on the topic as it is now,
 * or undefined when it can. A snapshot is the old fold's output, so only the
 * same fingerprint will do; and the records after it must still be in the
 * topic, or the gap would be silently skipped.
 */
export function refusal(
  snapshot: Snapshot,
  fingerprint: string,
  topic: string,
  ranges: readonly PartitionRange[],
): string | undefined {
  if (snapshot.fingerprint !== fingerprint) {
    return `taken with fold ${snapshot.fingerprint.slice(0, 12)}, this build folds ${fingerprint.slice(0, 12)}: it must replay from the earliest offset`;
  }
  if (snapshot.topic !== topic) return `taken from topic ${snapshot.topic}, not ${topic}`;
  const byPartition = new Map(ranges.map((r) => [r.partition, r]));
  for (const [partition, offset] of snapshot.offsets) {
    const range = byPartition.get(partition);
    if (!range) return `partition ${partition} is no longer in the topic`;
    if (offset < range.low)
      return `partition ${partition}: records ${offset}..${range.low - 1n} are gone from the topic (retention)`;
    if (offset > range.high)
      return `partition ${partition}: at ${offset}, past the topic's end ${range.high} (a recreated topic?)`;
  }
  for (const range of ranges) {
    if (!snapshot.offsets.has(range.partition) && range.low > 0n) {
      return `partition ${range.partition} had nothing applied and its first records are gone (retention)`;
    }
  }
  return undefined;
}

export async function chooseSnapshot(
  db: Queryable,
  def: ProjectionDefinition,
  topic: string,
  ranges: readonly PartitionRange[],
): Promise<SnapshotChoice> {
  const fingerprint = projectionFingerprint(def);
  const refused: { id: number; reason: string }[] = [];
  for (const s of await listSnapshots(db, def.name)) {
    const reason = refusal(s, fingerprint, topic, ranges);
    if (reason === undefined) return { snapshot: s, refused };
    refused.push({ id: s.id, reason });
  }
  return { snapshot: undefined, refused };
}

/**
 * Fills an empty new version from a snapshot and sets its checkpoints to the
 * snapshot's offsets (next_offset = start_offset = the snapshot's), in one
 * transaction: the version either holds the snapshot with its offsets or
 * nothing, so a crash here leaves a version a later run rebuilds from the
 * earliest offset. The consumer then starts at exactly the first record the
 * snapshot does not hold.
 */
export async function restoreSnapshot(
  pool: Pool,
  def: ProjectionDefinition,
  snapshot: Snapshot,
  target: ProjectionVersion,
): Promise<void> {
  const client: PoolClient = await pool.connect();
  try {
    await client.query('BEGIN; SET LOCAL statement_timeout = 0');
    await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [snapshotLock(def.name)]);
    const { rows } = await client.query('SELECT 1 FROM projection_snapshots WHERE id = $1', [snapshot.id]);
    if (rows.length === 0) throw new Error(`snapshot ${snapshot.id} was dropped meanwhile`);
    for (const table of [...def.tables, HEADS_TABLE]) {
      const columns = (await insertableColumns(client, target.schema, table)).map(quoteIdent).join(', ');
      await client.query(
        `INSERT INTO ${qualified(target.schema, table)} (${columns}) SELECT ${columns} FROM ${qualified(snapshot.schema, table)}`,
      );
    }
    // The catalog's columns that the copy has (a column added since keeps its default).
    const copied = new Set(await insertableColumns(client, snapshot.schema, PARKED_COPY));
    const parkedColumns = (await insertableColumns(client, 'public', 'projection_parked')).filter(
      (c) => c !== 'id' && c !== 'version' && copied.has(c),
    );
    const cols = parkedColumns.map(quoteIdent).join(', ');
    await client.query(
      `INSERT INTO projection_parked (version, ${cols}) SELECT $1, ${cols} FROM ${qualified(snapshot.schema, PARKED_COPY)}`,
      [target.version],
    );
    const ref: VersionRef = { projection: def.name, version: target.version };
    await ensurePositions(client, ref, snapshot.topic, new Map([...snapshot.offsets].map(([p, o]) => [p, { start: o }])));
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}

/** The columns an INSERT may name: generated columns (wallet_balances.available) are computed again. */
async function insertableColumns(db: Queryable, schema: string, table: string): Promise<string[]> {
  const { rows } = await db.query<{ column_name: string }>(
    `SELECT column_name FROM information_schema.columns
     WHERE table_schema = $1 AND table_name = $2 AND is_generated = 'NEVER' ORDER BY ordinal_position`,
    [schema, table],
  );
  if (rows.length === 0) throw new Error(`${schema}.${table} has no columns (missing?)`);
  return rows.map((r) => r.column_name);
}
