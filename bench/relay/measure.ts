import { execFile } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import type { Pool } from 'pg';
import { uuidv7 } from '@sluice/core';
import { createKafka } from '@sluice/messaging';
import { testEnv, uniqueName } from '@sluice/testing';
import { summarize } from '../stats';
import { logger } from './setup';

const run = promisify(execFile);

export interface DrainResult {
  events: number;
  /** Spawn (or start) to the last event acknowledged. */
  wallSeconds: number;
  /** First event on the topic to the last: the steady drain, start-up excluded. */
  drainSeconds: number;
  eventsPerSecond: number;
}

/** Events on a topic, all partitions. */
export async function topicCount(topic: string): Promise<number> {
  const admin = createKafka({ ...testEnv.kafka, clientId: 'bench-relay', logger }).admin();
  await admin.connect();
  try {
    const offsets = await admin.fetchTopicOffsets(topic);
    return offsets.reduce((sum, p) => sum + Number(p.high) - Number(p.low), 0);
  } finally {
    await admin.disconnect();
  }
}

/** Waits until `topic` holds `expected` events, printing progress; times from `startedAt`. */
export async function timeDrain(
  label: string,
  topic: string,
  expected: number,
  startedAt: number,
  timeoutMs = 15 * 60_000,
): Promise<DrainResult> {
  const admin = createKafka({ ...testEnv.kafka, clientId: 'bench-relay', logger }).admin();
  await admin.connect();
  let firstAt: number | undefined;
  let last = 0;
  let lastPrint = 0;
  try {
    for (;;) {
      const offsets = await admin.fetchTopicOffsets(topic);
      const n = offsets.reduce((sum, p) => sum + Number(p.high) - Number(p.low), 0);
      const now = performance.now();
      if (n > 0 && firstAt === undefined) firstAt = now;
      if (now - lastPrint > 2_000) {
        const rate = firstAt ? Math.round(n / ((now - firstAt) / 1000 || 1)) : 0;
        process.stderr.write(
          `  ${label}: ${n.toLocaleString()}/${expected.toLocaleString()} events (${rate.toLocaleString()}/s)\n`,
        );
        lastPrint = now;
      }
      if (n >= expected) {
        const wallSeconds = (now - startedAt) / 1000;
        const drainSeconds = (now - (firstAt ?? startedAt)) / 1000;
        return { events: n, wallSeconds, drainSeconds, eventsPerSecond: n / drainSeconds };
      }
      if (now - startedAt > timeoutMs)
        throw new Error(`${label}: only ${n} of ${expected} events after ${timeoutMs} ms (stuck at ${last})`);
      last = n;
      await sleep(100);
    }
  } finally {
    await admin.disconnect();
  }
}

/** The decode ceiling: pg_recvlogical with pgoutput reading the same slot's backlog to /dev/null. */
export async function recvlogicalDrain(
  dbUrl: string,
  slot: string,
  publication: string,
  endLsn: string,
): Promise<{ seconds: number }> {
  const started = performance.now();
  await run(
    'pg_recvlogical',
    [
      '-d',
      dbUrl,
      '--slot',
      slot,
      '--start',
      '-f',
      '/dev/null',
      '--endpos',
      endLsn,
      '--no-loop',
      '-o',
      'proto_version=1',
      '-o',
      `publication_names=${publication}`,
      '-o',
      'binary=true',
    ],
    { maxBuffer: 1 << 20 },
  );
  return { seconds: (performance.now() - started) / 1000 };
}

export interface LatencyResult {
  ratePerSecond: number;
  seconds: number;
  events: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

/**
 * Commit → Kafka latency at a steady rate: transactions of `perTxn` events are
 * committed on an open schedule (not waiting for one another), and each event's
 * latency is the broker's append time (the topic uses LogAppendTime) minus the
 * moment its COMMIT was sent. The first two seconds are warm-up.
 */
export async function steadyLatency(
  pool: Pool,
  payload: Buffer,
  topic: string,
  ratePerSecond: number,
  seconds: number,
  perTxn = 10,
): Promise<LatencyResult> {
  const committedAt = new Map<string, number>();
  const appendedEarly = new Map<string, number>();
  const latencies: number[] = [];
  const kafka = createKafka({ ...testEnv.kafka, clientId: 'bench-relay', logger });
  const consumer = kafka.consumer({ groupId: uniqueName('bench_latency'), maxWaitTimeInMs: 50 });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  let received = 0;
  const warmupEnds = Date.now() + 2_000;
  await consumer.run({
    eachMessage: async ({ message }) => {
      received++;
      const id = message.headers?.id?.toString();
      if (id === undefined) return;
      const at = committedAt.get(id);
      if (at === undefined) appendedEarly.set(id, Number(message.timestamp));
      else if (at >= warmupEnds) latencies.push(Number(message.timestamp) - at);
    },
  });
  await sleep(1_000); // let the group settle before the clock starts

  const txnsPerSecond = ratePerSecond / perTxn;
  const intervalMs = 1000 / txnsPerSecond;
  const start = performance.now();
  const total = Math.round(txnsPerSecond * seconds);
  const inFlight: Promise<void>[] = [];
  for (let i = 0; i < total; i++) {
    const due = start + i * intervalMs;
    const wait = due - performance.now();
    if (wait > 1) await sleep(wait);
    const ids = Array.from({ length: perTxn }, () => uuidv7());
    inFlight.push(
      (async () => {
        const client = await pool.connect();
        try {
          await client.query('BEGIN');
          await client.query(
            `INSERT INTO outbox (id, aggregatetype, aggregateid, type, payload)
             SELECT id, 'wallet', 'key-' || (abs(hashtext(id::text)) % 1000), 'FundsDeposited', $2::bytea FROM unnest($1::uuid[]) AS id`,
            [ids, payload],
          );
          await client.query('DELETE FROM outbox WHERE id = ANY($1::uuid[])', [ids]);
          // Measured from just before COMMIT: the latency includes the commit itself.
          const commitAt = Date.now();
          await client.query('COMMIT');
          for (const id of ids) {
            committedAt.set(id, commitAt);
            const appended = appendedEarly.get(id);
            if (appended !== undefined && commitAt >= warmupEnds) latencies.push(appended - commitAt);
          }
        } finally {
          client.release();
        }
      })(),
    );
    if (inFlight.length > 256) await Promise.all(inFlight.splice(0));
  }
  await Promise.all(inFlight);
  const deadline = Date.now() + 60_000;
  while (received < total * perTxn && Date.now() < deadline) await sleep(50);
  await consumer.disconnect();
  const s = summarize(latencies);
  return { ratePerSecond, seconds, events: total * perTxn, p50: s.p50, p90: s.p90, p99: s.p99, max: s.max };
}
