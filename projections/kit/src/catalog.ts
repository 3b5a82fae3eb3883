import type { Queryable } from './projection';
import { HEADS_TABLE } from './install';
import { qualified } from './sql';

/**
 * The projection catalog as its readers see it. The projector owns the
 * catalog's tables (services/projector/migrations: `projections`,
 * `projection_versions`, `projection_checkpoints`) and alone writes them;
 * everyone else (the query API, the CLI, benchmarks, tests) reads them
 * through these functions, so the tables' shape is known here and in the
 * projector's migrations, nowhere else.
 */

export type VersionState = 'building' | 'live' | 'retired' | 'replay' | 'abandoned';
export type VersionOrigin = 'earliest' | 'timestamp' | 'adopted' | 'range' | 'snapshot';

export interface ProjectionVersion {
  projection: string;
  version: number;
  /** The schema holding this version's tables, unquoted, e.g. proj_wallet_v2. */
  schema: string;
  state: VersionState;
  origin: VersionOrigin;
  startedFrom: Date | null;
  createdAt: Date;
  liveAt: Date | null;
  retiredAt: Date | null;
  /** What a rebuild last recorded: records applied and to apply since its start, and its rate (events/s). */
  progress: { applied: number; total: number; rate: number; at: Date | null };
}

/** A projection and one of its versions. */
export interface VersionRef {
  readonly projection: string;
  readonly version: number;
}

interface VersionRow {
  projection: string;
  version: number;
  schema_name: string;
  state: VersionState;
  origin: VersionOrigin;
  started_from: Date | null;
  created_at: Date;
  live_at: Date | null;
  retired_at: Date | null;
  progress_applied: string;
  progress_total: string;
  progress_rate: number;
  progress_at: Date | null;
}

function toVersion(r: VersionRow): ProjectionVersion {
  return {
    projection: r.projection,
    version: r.version,
    schema: r.schema_name,
    state: r.state,
    origin: r.origin,
    startedFrom: r.started_from,
    createdAt: r.created_at,
    liveAt: r.live_at,
    retiredAt: r.retired_at,
    progress: {
      applied: Number(r.progress_applied),
      total: Number(r.progress_total),
      rate: r.progress_rate,
      at: r.progress_at,
    },
  };
}

/** Every version of every projection (or of one), by projection then version. */
export async function listVersions(db: Queryable, projection?: string): Promise<ProjectionVersion[]> {
  const { rows } = await db.query<VersionRow>(
    `SELECT * FROM projection_versions WHERE $1::text IS NULL OR projection = $1 ORDER BY projection, version`,
    [projection ?? null],
  );
  return rows.map(toVersion);
}

export async function getVersion(db: Queryable, projection: string, version: number): Promise<ProjectionVersion | undefined> {
  const { rows } = await db.query<VersionRow>('SELECT * FROM projection_versions WHERE projection = $1 AND version = $2', [
    projection,
    version,
  ]);
  return rows[0] && toVersion(rows[0]);
}

/** The version readers see; undefined before the projector first started the projection. */
export async function liveVersion(db: Queryable, projection: string): Promise<ProjectionVersion | undefined> {
  const { rows } = await db.query<VersionRow>(
    `SELECT v.* FROM projections p JOIN projection_versions v ON v.projection = p.name AND v.version = p.live_version
     WHERE p.name = $1`,
    [projection],
  );
  return rows[0] && toVersion(rows[0]);
}

/** The live version of every projection that has one. */
export async function liveVersions(db: Queryable): Promise<VersionRef[]> {
  const { rows } = await db.query<VersionRef>(
    'SELECT name AS projection, live_version AS version FROM projections WHERE live_version IS NOT NULL ORDER BY name',
  );
  return rows;
}

/** The newest version of a projection in one of `states`; undefined when it has none. */
export async function newestVersion(
  db: Queryable,
  projection: string,
  states: readonly VersionState[],
): Promise<ProjectionVersion | undefined> {
  const { rows } = await db.query<VersionRow>(
    `SELECT * FROM projection_versions WHERE projection = $1 AND state = ANY($2::text[]) ORDER BY version DESC LIMIT 1`,
    [projection, [...states]],
  );
  return rows[0] && toVersion(rows[0]);
}

/** One partition of a live version, as the projector recorded it in the transaction of its last batch. */
export interface LivePartition {
  readonly projection: string;
  readonly version: number;
  /** The live version's schema, unquoted. */
  readonly schema: string;
  readonly partition: number;
  readonly nextOffset: bigint;
  /** Records between the checkpoint and the end of the partition when the batch ran. */
  readonly lagRecords: number;
  /** The timestamp of the last record applied; null before any. */
  readonly lastRecordAt: Date | null;
  readonly updatedAt: Date;
}

/** Every partition checkpoint of the live versions on `topic`, by projection then partition. */
export async function liveCheckpoints(db: Queryable, topic: string): Promise<LivePartition[]> {
  const { rows } = await db.query<{
    projection: string;
    version: number;
    schema_name: string;
    partition: number;
    next_offset: string;
    lag_records: string;
    last_record_at: Date | null;
    updated_at: Date;
  }>(
    `SELECT c.projection, c.version, v.schema_name, c.partition, c.next_offset, c.lag_records, c.last_record_at, c.updated_at
     FROM projections p
     JOIN projection_versions v ON v.projection = p.name AND v.version = p.live_version
     JOIN projection_checkpoints c ON c.projection = p.name AND c.version = p.live_version AND c.topic = $1
     ORDER BY c.projection, c.partition`,
    [topic],
  );
  return rows.map((r) => ({
    projection: r.projection,
    version: r.version,
    schema: r.schema_name,
    partition: r.partition,
    nextOffset: BigInt(r.next_offset),
    lagRecords: Number(r.lag_records),
    lastRecordAt: r.last_record_at,
    updatedAt: r.updated_at,
  }));
}

/** The stored next offset of each partition of one version on `topic`. */
export async function checkpointsOf(db: Queryable, ref: VersionRef, topic: string): Promise<Map<number, bigint>> {
  const { rows } = await db.query<{ partition: number; next_offset: string }>(
    'SELECT partition, next_offset FROM projection_checkpoints WHERE projection = $1 AND version = $2 AND topic = $3',
    [ref.projection, ref.version, topic],
  );
  return new Map(rows.map((r) => [r.partition, BigInt(r.next_offset)]));
}

/** Records applied by each version, summed over its partitions and topics (its next offsets); absent for a version without checkpoints. */
export async function appliedRecords(db: Queryable, refs: readonly VersionRef[]): Promise<Map<string, number>> {
  if (refs.length === 0) return new Map();
  const { rows } = await db.query<{ projection: string; version: number; n: string }>(
    `SELECT c.projection, c.version, sum(c.next_offset) AS n FROM projection_checkpoints c
     JOIN unnest($1::text[], $2::int4[]) AS r(projection, version) ON r.projection = c.projection AND r.version = c.version
     GROUP BY c.projection, c.version`,
    [refs.map((r) => r.projection), refs.map((r) => r.version)],
  );
  return new Map(rows.map((r) => [versionKey(r), Number(r.n)]));
}

/** `wallet@2`: the key of a version in the maps these functions return. */
export function versionKey(ref: VersionRef): string {
  return `${ref.projection}@${ref.version}`;
}

/** How far each live version is behind, as the projector last recorded it. */
export interface LiveLag {
  readonly projection: string;
  /** Records not yet applied, summed over partitions. */
  readonly records: number;
  /** How long the furthest-behind partition has been behind its newest record, ms; null when none is behind. */
  readonly behindMs: number | null;
}

export async function liveLag(db: Queryable): Promise<LiveLag[]> {
  const { rows } = await db.query<{ projection: string; lag: string; behind_ms: string | null }>(
    `SELECT c.projection, sum(c.lag_records) AS lag,
       max(CASE WHEN c.lag_records > 0 THEN extract(epoch FROM now() - c.last_record_at) * 1000 END) AS behind_ms
     FROM projection_checkpoints c JOIN projections p ON p.name = c.projection AND p.live_version = c.version
     GROUP BY c.projection ORDER BY c.projection`,
  );
  return rows.map((r) => ({
    projection: r.projection,
    records: Number(r.lag),
    behindMs: r.behind_ms === null ? null : Number(r.behind_ms),
  }));
}

/**
 * The last version of an aggregate a projection version has folded or let
 * pass (the engine's version guard, one table per version schema); undefined
 * when it has seen none of the aggregate's events.
 */
export async function aggregateHead(db: Queryable, schema: string, aggregateId: string): Promise<number | undefined> {
  const { rows } = await db.query<{ version: number }>(
    `SELECT version FROM ${qualified(schema, HEADS_TABLE)} WHERE aggregate_id = $1`,
    [aggregateId],
  );
  return rows[0]?.version;
}
