import { drizzle } from 'drizzle-orm/node-postgres';
import { migrate } from 'drizzle-orm/node-postgres/migrator';
import type { Pool } from 'pg';
import type { ProjectionDefinition, Queryable } from './projection';
import { qualified, quoteIdent } from './sql';

/** Each version schema keeps its migration journal beside its tables. */
export const VERSION_JOURNAL = '__migrations';
/** The engine's per-aggregate version guard, one per version schema. */
export const HEADS_TABLE = 'aggregate_versions';

/**
 * Installs a projection's tables in `schema`: its drizzle-kit migrations name
 * tables unqualified, so with the search path set to the schema every version
 * gets its own copy of the same tables; then the engine's heads table.
 * Idempotent (the journal lives in the schema) and serialised across replicas.
 */
export async function migrateVersionSchema(
  pool: Pool,
  def: Pick<ProjectionDefinition, 'migrations'>,
  schema: string,
): Promise<void> {
  const client = await pool.connect();
  const lock = `sluice.migrate.${schema}`;
  try {
    await client.query('SELECT pg_advisory_lock(hashtext($1))', [lock]);
    try {
      await client.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(schema)}`);
      await client.query(`SET search_path TO ${quoteIdent(schema)}`);
      await migrate(drizzle(client), {
        migrationsFolder: def.migrations.folder,
        migrationsTable: VERSION_JOURNAL,
        migrationsSchema: schema,
      });
      await client.query(
        `CREATE TABLE IF NOT EXISTS ${qualified(schema, HEADS_TABLE)} (aggregate_id text PRIMARY KEY, version integer NOT NULL)`,
      );
    } finally {
      await client.query('RESET search_path');
      await client.query('SELECT pg_advisory_unlock(hashtext($1))', [lock]);
    }
  } finally {
    client.release();
  }
}

/**
 * Points the public views of a projection's tables at `schema`, inside the
 * caller's transaction: readers query `public.<table>` and see whichever
 * version is live.
 */
export async function publishViews(db: Queryable, def: Pick<ProjectionDefinition, 'tables'>, schema: string): Promise<void> {
  for (const table of def.tables) {
    // DROP + CREATE rather than CREATE OR REPLACE: a new version may have other columns.
    await db.query(`DROP VIEW IF EXISTS ${qualified('public', table)}`);
    await db.query(`CREATE VIEW ${qualified('public', table)} AS SELECT * FROM ${qualified(schema, table)}`);
  }
}
