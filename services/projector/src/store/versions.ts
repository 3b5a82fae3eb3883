import type { Pool, PoolClient } from 'pg';
import { withTransaction } from '@sluice/db';
import {
  getVersion,
  HEADS_TABLE,
  liveVersion,
  migrateVersionSchema,
  publishViews,
  qualified,
  quoteIdent,
  VERSION_JOURNAL,
  type ProjectionDefinition,
  type ProjectionVersion,
  type Queryable,
  type VersionOrigin,
  type VersionState,
} from '@sluice/projection-kit';
import { lockExclusive, setupLock } from './locks';

export function versionSchema(projection: string, version: number): string {
  return `proj_${projection}_v${version}`;
}

// The catalog's reads live in the projection kit, for readers outside the projector too.
export {
  getVersion,
  listVersions,
  liveVersion,
  type ProjectionVersion,
  type VersionOrigin,
  type VersionState,
} from '@sluice/projection-kit';
export { publishViews };

/**
 * Creates a version's schema and tables and registers it. Numbers come from
 * the registry; a crash between the DDL and the registration leaves a schema
 * the next attempt with the same number reuses.
 */
export async function createVersion(
  pool: Pool,
  def: ProjectionDefinition,
  options: { state: 'building' | 'replay'; origin: VersionOrigin; startedFrom?: Date; schema?: (version: number) => string },
): Promise<ProjectionVersion> {
  const client = await pool.connect();
  try {
    await client.query('SELECT pg_advisory_lock(hashtext($1))', [setupLock(def.name)]);
    try {
      const { rows } = await client.query<{ next: number }>(
        'SELECT COALESCE(max(version), 0) + 1 AS next FROM projection_versions WHERE projection = $1',
        [def.name],
      );
      const version = rows[0]!.next;
      const schema = (options.schema ?? ((v: number) => versionSchema(def.name, v)))(version);
      await migrateVersionSchema(pool, def, schema);
      await client.query('INSERT INTO projections (name) VALUES ($1) ON CONFLICT (name) DO NOTHING', [def.name]);
      await client.query(
        `INSERT INTO projection_versions (projection, version, schema_name, state, origin, started_from)
         VALUES ($1, $2, $3, $4, $5, $6)`,
        [def.name, version, schema, options.state, options.origin, options.startedFrom ?? null],
      );
      return (await getVersion(client, def.name, version))!;
    } finally {
      await client.query('SELECT pg_advisory_unlock(hashtext($1))', [setupLock(def.name)]);
    }
  } finally {
    client.release();
  }
}

export async function setVersionState(db: Queryable, projection: string, version: number, state: VersionState): Promise<void> {
  await db.query(
    `UPDATE projection_versions SET state = $3::varchar,
       retired_at = CASE WHEN $3::varchar = 'retired' THEN now() ELSE retired_at END
     WHERE projection = $1 AND version = $2`,
    [projection, version, state],
  );
}

export async function recordProgress(
  db: Queryable,
  projection: string,
  version: number,
  progress: { applied: number; total: number; rate: number },
): Promise<void> {
  await db.query(
    `UPDATE projection_versions SET progress_applied = $3, progress_total = $4, progress_rate = $5, progress_at = now()
     WHERE projection = $1 AND version = $2`,
    [projection, version, progress.applied, progress.total, progress.rate],
  );
}

/** Drops a version that is not live: its schema, checkpoints, parked records and registry row. */
export async function dropVersion(pool: Pool, projection: string, version: number): Promise<void> {
  await withTransaction(pool, async (client) => {
    await lockExclusive(client, projection);
    const v = await getVersion(client, projection, version);
    if (!v) throw new Error(`${projection} has no version ${version}`);
    if (v.state === 'live') throw new Error(`${projection} v${version} is live; switch to another version first`);
    await client.query(`DROP SCHEMA IF EXISTS ${quoteIdent(v.schema)} CASCADE`);
    await client.query('DELETE FROM projection_checkpoints WHERE projection = $1 AND version = $2', [projection, version]);
    await client.query('DELETE FROM projection_parked WHERE projection = $1 AND version = $2', [projection, version]);
    await client.query('DELETE FROM projection_versions WHERE projection = $1 AND version = $2', [projection, version]);
  });
}

/**
 * At start-up: makes sure every hosted projection has a live version with its
 * latest migrations and views. A projection seen for the first time gets
 * version 1, built from the start of the topic by the live consumer; a table
 * it kept in public before versions existed is adopted as version 1 instead,
 * with its positions, so an upgrade keeps serving.
 */
export async function ensureLiveVersion(
  pool: Pool,
  def: ProjectionDefinition,
  legacy: { consumerGroup: string; topic: string },
): Promise<ProjectionVersion> {
  const client = await pool.connect();
  try {
    await client.query('SELECT pg_advisory_lock(hashtext($1))', [setupLock(def.name)]);
    try {
      let live = await liveVersion(client, def.name);
      if (!live && def.legacy && (await isBaseTable(client, 'public', def.legacy.tables[0]!))) {
        await adoptLegacy(pool, def, legacy);
        live = await liveVersion(client, def.name);
      }
      if (!live) {
        const { rows } = await client.query<{ next: number }>(
          'SELECT COALESCE(max(version), 0) + 1 AS next FROM projection_versions WHERE projection = $1',
          [def.name],
        );
        const version = rows[0]!.next;
        const schema = versionSchema(def.name, version);
        await migrateVersionSchema(pool, def, schema);
        await withTransaction(pool, async (tx) => {
          await lockExclusive(tx, def.name);
          await tx.query('INSERT INTO projections (name) VALUES ($1) ON CONFLICT (name) DO NOTHING', [def.name]);
          await tx.query(
            `INSERT INTO projection_versions (projection, version, schema_name, state, origin, live_at)
             VALUES ($1, $2, $3, 'live', 'earliest', now())`,
            [def.name, version, schema],
          );
          await tx.query('UPDATE projections SET live_version = $2, updated_at = now() WHERE name = $1', [def.name, version]);
        });
        live = (await liveVersion(client, def.name))!;
      }
      // New migrations of the projection apply to the live version in place; the views pick up new columns.
      const { schema } = live;
      await migrateVersionSchema(pool, def, schema);
      await withTransaction(pool, async (tx) => {
        await lockExclusive(tx, def.name);
        await publishViews(tx, def, schema);
      });
      return live;
    } finally {
      await client.query('SELECT pg_advisory_unlock(hashtext($1))', [setupLock(def.name)]);
    }
  } finally {
    client.release();
  }
}

async function isBaseTable(db: Queryable, schema: string, table: string): Promise<boolean> {
  const { rows } = await db.query<{ kind: string | null }>(
    `SELECT c.relkind::text AS kind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = $1 AND c.relname = $2`,
    [schema, table],
  );
  return rows[0]?.kind === 'r';
}

/** Moves the pre-version tables, their journal and their checkpoints into version 1, in one transaction. */
async function adoptLegacy(
  pool: Pool,
  def: ProjectionDefinition,
  legacy: { consumerGroup: string; topic: string },
): Promise<void> {
  const spec = def.legacy!;
  const schema = versionSchema(def.name, 1);
  await withTransaction(pool, async (tx: PoolClient) => {
    await lockExclusive(tx, def.name);
    await tx.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(schema)}`);
    for (const table of spec.tables) await tx.query(`ALTER TABLE ${qualified('public', table)} SET SCHEMA ${quoteIdent(schema)}`);
    if (await isBaseTable(tx, 'public', spec.migrationsTable)) {
      await tx.query(`ALTER TABLE ${qualified('public', spec.migrationsTable)} SET SCHEMA ${quoteIdent(schema)}`);
      await tx.query(`ALTER TABLE ${qualified(schema, spec.migrationsTable)} RENAME TO ${quoteIdent(VERSION_JOURNAL)}`);
    }
    await tx.query(`CREATE TABLE ${qualified(schema, HEADS_TABLE)} (aggregate_id text PRIMARY KEY, version integer NOT NULL)`);
    await tx.query(`SET LOCAL search_path TO ${quoteIdent(schema)}`);
    await tx.query(`INSERT INTO ${qualified(schema, HEADS_TABLE)} (aggregate_id, version) ${spec.headsQuery}`);
    await tx.query('SET LOCAL search_path TO DEFAULT');
    if (await isBaseTable(tx, 'public', 'projector_checkpoints')) {
      await tx.query(
        `INSERT INTO projection_checkpoints (projection, version, topic, partition, next_offset)
         SELECT $1, 1, topic, partition, next_offset FROM projector_checkpoints WHERE consumer_group = $2 AND topic = $3
         ON CONFLICT DO NOTHING`,
        [def.name, legacy.consumerGroup, legacy.topic],
      );
    }
    await tx.query('INSERT INTO projections (name, live_version) VALUES ($1, 1)', [def.name]);
    await tx.query(
      `INSERT INTO projection_versions (projection, version, schema_name, state, origin, live_at)
       VALUES ($1, 1, $2, 'live', 'adopted', now())`,
      [def.name, schema],
    );
  });
}
