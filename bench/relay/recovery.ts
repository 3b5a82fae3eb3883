import { setTimeout as sleep } from 'node:timers/promises';
import type { Pool } from 'pg';
import { uuidv7 } from '@sluice/core';
import { createKafka } from '@sluice/messaging';
import { freePort, startService, testEnv, uniqueName } from '@sluice/testing';
import { writeResult } from '../results';
import { printTable, summarize } from '../stats';
import { createSlot, createTopic, deleteTopics, dropDatabase, freshDatabase, logger, samplePayload } from './setup';

/**
 * How long the relay takes to recover from a lost replication slot under load.
 * The relay (its own process, @platformatic/kafka, default settings) streams while a writer
 * commits outbox rows at a steady rate (as the command API writes them: kept in the table). The
 * bench ends the slot's walsender and drops the slot, as an operator or a failover without
 * failover slots would lose it, and keeps writing. The events committed from the drop until the
 * relay's new slot exists are in no slot's WAL: only the retained outbox has them.
 *
 * Per round: detection (drop → the relay's new slot exists), recovery (drop → the last of those
 * missed events on Kafka, by the topic's LogAppendTime), events missed, duplicates, and a check
 * that every committed event reached Kafka.
 *   node dist/bench/relay/recovery.js [events/s=1000] [rounds=3]
 */
const RATE = Number(process.argv[2] ?? 1_000);
const ROUNDS = Number(process.argv[3] ?? 3);
const PER_TXN = 10;
const KEYS = 1_000;
const SLOT = 'bench_recovery';
const WARMUP_MS = 3_000;
const AFTER_MS = 5_000;

interface Committed {
  id: string;
  at: number;
}

interface RoundResult {
  round: number;
  committed: number;
  missed: number;
  duplicates: number;
  lost: number;
  detectionMs: number;
  recoveryMs: number;
}

/** Commits PER_TXN rows per transaction at RATE events/s until stopped; each id with its commit time (epoch ms). */
function steadyWriter(pool: Pool, payload: Buffer) {
  const committed: Committed[] = [];
  let running = true;
  const done = (async () => {
    const started = performance.now();
    let n = 0;
    while (running) {
      const due = started + (n / RATE) * 1000;
      const wait = due - performance.now();
      if (wait > 0) await sleep(wait);
      const ids = Array.from({ length: PER_TXN }, () => uuidv7());
      const keys = ids.map((_, i) => `key-${(n + i) % KEYS}`);
      await pool.query(
        `INSERT INTO outbox (id, aggregatetype, aggregateid, type, payload)
         SELECT id, 'wallet', key, 'FundsDeposited', $3::bytea FROM unnest($1::uuid[], $2::text[]) AS t(id, key)`,
        [ids, keys, payload],
      );
      const at = Date.now();
      for (const id of ids) committed.push({ id, at });
      n += PER_TXN;
    }
  })();
  return {
    committed,
    stop: async () => {
      running = false;
      await done;
    },
  };
}

/** Ends the slot's walsender and drops the slot, again until the drop wins the race against the relay's reconnect. */
async function dropSlot(pool: Pool): Promise<number> {
  for (;;) {
    await pool.query(
      'SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = $1 AND active_pid IS NOT NULL',
      [SLOT],
    );
    try {
      await pool.query('SELECT pg_drop_replication_slot($1)', [SLOT]);
      return Date.now();
    } catch (err) {
      if ((err as { code?: string }).code !== '55006') throw err;
      await sleep(2);
    }
  }
}

/** Polls until the slot exists again: the relay has created its new one. */
async function waitForSlot(pool: Pool, timeoutMs = 60_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const { rowCount } = await pool.query('SELECT 1 FROM pg_replication_slots WHERE slot_name = $1', [SLOT]);
    if (rowCount) return Date.now();
    await sleep(5);
  }
  throw new Error(`the relay did not create a new slot within ${timeoutMs} ms`);
}

/** First LogAppendTime of each event id on the topic, and how many records repeated one. */
async function firstArrivals(topic: string, expected: number): Promise<{ first: Map<string, number>; duplicates: number }> {
  const kafka = createKafka({ ...testEnv.kafka, clientId: 'bench-recovery', logger });
  const admin = kafka.admin();
  await admin.connect();
  const total = (await admin.fetchTopicOffsets(topic)).reduce((s, p) => s + Number(p.high) - Number(p.low), 0);
  await admin.disconnect();
  const consumer = kafka.consumer({ groupId: uniqueName('bench_recovery_reader') });
  const first = new Map<string, number>();
  let seen = 0;
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`read ${seen} of ${total} records`)), 120_000);
    void consumer.run({
      eachMessage: async ({ message }) => {
        seen++;
        const id = message.headers?.id?.toString() ?? '';
        if (!first.has(id)) first.set(id, Number(message.timestamp));
        if (seen >= total) {
          clearTimeout(timer);
          resolve();
        }
      },
    });
  });
  await consumer.disconnect();
  if (first.size < expected) process.stderr.write(`  only ${first.size} of ${expected} events on ${topic}\n`);
  return { first, duplicates: seen - first.size };
}

async function round(n: number): Promise<RoundResult> {
  const pattern = `${uniqueName('bench_recovery')}.\${routedByValue}`;
  const db = await freshDatabase(pattern);
  const topic = await createTopic(pattern, true);
  await createSlot(db.pool, SLOT, 'bench_pub');
  const relay = startService(
    'outbox-relay',
    {
      RELAY_MODE: 'wal',
      DATABASE_URL: db.url,
      ...testEnv.kafkaEnv,
      OUTBOX_TOPIC_PATTERN: pattern,
      OUTBOX_SLOT_NAME: SLOT,
      OUTBOX_PUBLICATION_NAME: 'bench_pub',
      LOG_LEVEL: 'warn',
    },
    await freePort(),
  );
  await relay.waitReady();
  const writer = steadyWriter(db.pool, samplePayload(db.codec));
  await sleep(WARMUP_MS);
  const droppedAt = await dropSlot(db.pool);
  const recreatedAt = await waitForSlot(db.pool);
  process.stderr.write(`  round ${n}: slot dropped, new slot after ${recreatedAt - droppedAt} ms\n`);
  await sleep(AFTER_MS);
  await writer.stop();
  const committed = writer.committed;
  // Let the relay publish the tail, then read everything back.
  const deadline = Date.now() + 60_000;
  const count = async () => {
    const admin = createKafka({ ...testEnv.kafka, clientId: 'bench-recovery', logger }).admin();
    await admin.connect();
    const c = (await admin.fetchTopicOffsets(topic)).reduce((s, p) => s + Number(p.high) - Number(p.low), 0);
    await admin.disconnect();
    return c;
  };
  while ((await count()) < committed.length && Date.now() < deadline) await sleep(200);
  const { first, duplicates } = await firstArrivals(topic, committed.length);
  await relay.kill('SIGTERM');
  await db.pool.end();
  await deleteTopics([topic]);

  // Committed after the drop and before the new slot existed: in no slot's WAL.
  const missed = committed.filter((c) => c.at >= droppedAt && c.at < recreatedAt);
  const lost = committed.filter((c) => !first.has(c.id)).length;
  const lastMissedOnKafka = Math.max(...missed.map((c) => first.get(c.id) ?? Infinity));
  return {
    round: n,
    committed: committed.length,
    missed: missed.length,
    duplicates,
    lost,
    detectionMs: recreatedAt - droppedAt,
    recoveryMs: missed.length > 0 ? lastMissedOnKafka - droppedAt : NaN,
  };
}

async function main(): Promise<void> {
  const rounds: RoundResult[] = [];
  for (let n = 1; n <= ROUNDS; n++) {
    process.stderr.write(`round ${n}/${ROUNDS}: ${RATE.toLocaleString()} events/s, slot dropped after ${WARMUP_MS} ms\n`);
    rounds.push(await round(n));
  }
  await dropDatabase();
  printTable(
    `recovery from a dropped replication slot at ${RATE.toLocaleString()} events/s (${PER_TXN} per transaction)`,
    ['round', 'committed', 'missed', 'lost', 'duplicates', 'drop → new slot ms', 'drop → last missed on Kafka ms'],
    rounds.map((r) => [r.round, r.committed, r.missed, r.lost, r.duplicates, r.detectionMs, r.recoveryMs]),
  );
  const recovery = summarize(rounds.map((r) => r.recoveryMs).filter((v) => Number.isFinite(v)));
  console.log(`\nrecovery (drop → last missed event on Kafka): median ${recovery.p50} ms, max ${recovery.max} ms`);
  const file = writeResult('relay-recovery', { rate: RATE, eventsPerTxn: PER_TXN, keys: KEYS, rounds, recovery });
  console.log(`\nwrote ${file}`);
  if (rounds.some((r) => r.lost > 0)) process.exitCode = 1;
}

main().catch((err: unknown) => {
  console.error(`bench failed: ${err instanceof Error ? err.stack : String(err)}`);
  process.exit(1);
});
