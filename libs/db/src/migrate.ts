import { drizzle } from 'drizzle-orm/node-postgres';
import { migrate } from 'drizzle-orm/node-postgres/migrator';
import type { Pool } from 'pg';

export interface MigrationSet {
  /** Folder written by drizzle-kit generate (SQL files + meta/_journal.json). */
  folder: string;
  /** Each owner keeps its own journal table so sets apply independently. */
  table: string;
}

/**
 * Applies a drizzle-kit migration set under a transaction-level advisory lock,
 * so replicas starting together apply it once.
 */
export async function applyMigrations(pool: Pool, set: MigrationSet): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query('SELECT pg_advisory_lock(hashtext($1))', [`sluice.migrate.${set.table}`]);
    try {
      await migrate(drizzle(client), {
        migrationsFolder: set.folder,
        migrationsTable: set.table,
        migrationsSchema: 'public',
      });
    } finally {
      await client.query('SELECT pg_advisory_unlock(hashtext($1))', [`sluice.migrate.${set.table}`]);
    }
  } finally {
    client.release();
  }
}
