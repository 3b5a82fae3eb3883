import { join } from 'node:path';
import type { Pool } from 'pg';
import { uuidv7 } from '@sluice/core';
import { applyMigrations, createPool, ensureDatabase, quoteIdent, withDatabase } from '@sluice/db';
import { AvroEventCodec, createKafka, ensureTopics, routeTopic } from '@sluice/messaging';
import { createLogger } from '@sluice/observability';
import { walletCatalog } from '@sluice/schemas';
import { testEnv } from '@sluice/testing';
import { Client } from 'pg';

export const BENCH_DB = 'sluice_bench_relay';
export const logger = createLogger('bench-relay', 'warn');

export interface BenchDb {
  url: string;
  pool: Pool;
  codec: AvroEventCodec;
}

/**
 * Drops the bench's database and its slots: a slot left behind would hold the
 * cluster's WAL (every database's) until someone noticed.
 */
export async function dropDatabase(): Promise<void> {
  const admin = new Client({ connectionString: withDatabase(testEnv.databaseUrl, 'postgres') });
  await admin.connect();
  try {
    await admin.query(`SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE database = $1`, [BENCH_DB]);
    await admin.query(`DROP DATABASE IF EXISTS ${quoteIdent(BENCH_DB)} WITH (FORCE)`);
  } finally {
    await admin.end();
  }
}

/** Drops the bench database's replication slots (their WAL readers are done). */
export async function dropSlots(pool: Pool): Promise<void> {
  await pool.query('SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE database = current_database()');
}

/** A fresh database with the real outbox table; schemas registered under the bench's own topics. */
export async function freshDatabase(pattern: string): Promise<BenchDb> {
  await dropDatabase();
  const url = withDatabase(testEnv.databaseUrl, BENCH_DB);
  await ensureDatabase(url);
  const pool = createPool({ url, applicationName: 'bench-relay', max: 8 });
  await applyMigrations(pool, {
    folder: join(__dirname, '../../services/command-api/migrations'),
    table: '__migrations_command_api',
  });
  const codec = AvroEventCodec.connect(testEnv.registryUrl, [walletCatalog], pattern);
  await codec.registerAll();
  return { url, pool, codec };
}

/** A typical event value: a framed FundsDeposited. */
export function samplePayload(codec: AvroEventCodec): Buffer {
  return codec.encode('wallet', {
    type: 'FundsDeposited',
    data: {
      eventId: uuidv7(),
      walletId: uuidv7(),
      depositId: uuidv7(),
      amount: 1250,
      currency: 'EUR',
      balance: 99_000,
      version: 7,
      occurredAt: Date.now(),
    },
  });
}

export async function createSlot(pool: Pool, slot: string, publication: string): Promise<void> {
  await pool
    .query(`CREATE PUBLICATION ${quoteIdent(publication)} FOR TABLE outbox WITH (publish = 'insert')`)
    .catch((e: { code?: string }) => {
      if (e.code !== '42710') throw e;
    });
  await pool.query(`SELECT pg_create_logical_replication_slot($1, 'pgoutput')`, [slot]);
}

export async function currentLsn(pool: Pool): Promise<string> {
  const { rows } = await pool.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn');
  return rows[0]!.lsn;
}

/**
 * Writes `total` outbox events as the command side does in WAL mode (insert
 * and delete in one transaction), `perTxn` to a transaction, over `keys` keys.
 */
export async function writeBacklog(
  pool: Pool,
  payload: Buffer,
  total: number,
  perTxn: number,
  keys: number,
  progress: (n: number) => void,
  /** Leave the rows in the table, as writers for the polling relay do (OUTBOX_MODE=polling). */
  keep = false,
): Promise<void> {
  for (let written = 0; written < total; written += perTxn) {
    const n = Math.min(perTxn, total - written);
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      await client.query(
        `INSERT INTO outbox (id, aggregatetype, aggregateid, type, payload)
         SELECT gen_random_uuid(), 'wallet', 'key-' || ((i + $2) % $3), 'FundsDeposited', $1::bytea FROM generate_series(1, $4) AS i`,
        [payload, written, keys, n],
      );
      if (!keep) await client.query('DELETE FROM outbox');
      await client.query('COMMIT');
    } finally {
      client.release();
    }
    progress(written + n);
  }
}

export async function createTopic(pattern: string, logAppendTime: boolean): Promise<string> {
  const topic = routeTopic(pattern, 'wallet');
  const kafka = createKafka({ ...testEnv.kafka, clientId: 'bench-relay', logger });
  await ensureTopics(kafka, [
    { topic, partitions: 12, retainForever: true, config: logAppendTime ? { 'message.timestamp.type': 'LogAppendTime' } : {} },
  ]);
  return topic;
}

export async function deleteTopics(topics: string[]): Promise<void> {
  const admin = createKafka({ ...testEnv.kafka, clientId: 'bench-relay', logger }).admin();
  await admin.connect();
  await admin.deleteTopics({ topics }).catch(() => undefined);
  await admin.disconnect();
}
