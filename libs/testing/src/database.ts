import { Client } from 'pg';
import { quoteIdent, withDatabase } from '@sluice/db';
import { START_HINT, testEnv } from './env';
import { uniqueName } from './names';

const TEST_DB_PREFIX = 'sluice_test_';

export interface TestDatabase {
  name: string;
  url: string;
  /** Drops the database, its replication slots and its connections. */
  drop(): Promise<void>;
}

/**
 * A fresh database per spec file. Refuses any name outside the sluice_test_
 * prefix, so a mistyped URL can never drop a real database.
 */
export async function createTestDatabase(label = 'db'): Promise<TestDatabase> {
  const name = uniqueName(`${TEST_DB_PREFIX}${label}`).toLowerCase();
  const admin = await adminClient();
  try {
    await admin.query(`CREATE DATABASE ${quoteIdent(name)}`);
  } finally {
    await admin.end();
  }
  const url = withDatabase(testEnv.databaseUrl, name);
  return { name, url, drop: () => dropTestDatabase(name) };
}

export async function dropTestDatabase(name: string): Promise<void> {
  if (!name.startsWith(TEST_DB_PREFIX)) throw new Error(`refusing to drop ${name}: not a test database`);
  const admin = await adminClient();
  try {
    // A replication slot pins WAL for ever: drop the test's slots first (ending their walsenders).
    await admin.query(
      `SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE database = $1 AND active_pid IS NOT NULL`,
      [name],
    );
    await admin.query(`SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE database = $1`, [name]);
    await admin.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`);
  } finally {
    await admin.end();
  }
}

async function adminClient(): Promise<Client> {
  const client = new Client({ connectionString: withDatabase(testEnv.databaseUrl, 'postgres') });
  try {
    await client.connect();
  } catch (err) {
    throw new Error(`PostgreSQL at ${testEnv.databaseUrl} is not reachable (${String(err)}); ${START_HINT}`);
  }
  return client;
}
