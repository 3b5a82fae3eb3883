import { writeResult } from '../results';
import { printTable } from '../stats';
import { freePort, startService, testEnv, uniqueName } from '@sluice/testing';
import {
  createSlot,
  currentLsn,
  deleteTopics,
  freshDatabase,
  samplePayload,
  writeBacklog,
  createTopic,
  type BenchDb,
} from './setup';
import { recvlogicalDrain, steadyLatency, timeDrain, type DrainResult, type LatencyResult } from './measure';

/**
 * The relay benchmark, back to back on one machine, one table, one broker:
 * 1. drain a backlog of N outbox events (default 1,000,000): Sluice's relay
 *    and the raw decode ceiling (pg_recvlogical with pgoutput to /dev/null);
 * 2. commit → Kafka latency at steady 1,000 and 5,000 events/s.
 *   node dist/bench/relay/main.js [events=1000000] [latency seconds=20]
 */
const EVENTS = Number(process.argv[2] ?? 1_000_000);
const LATENCY_SECONDS = Number(process.argv[3] ?? 20);
const PER_TXN = 1_000;
const KEYS = 10_000;

async function startRelay(db: BenchDb, pattern: string, slot: string, publication: string) {
  const env = {
    DATABASE_URL: db.url,
    KAFKA_BROKERS: testEnv.kafkaBrokers.join(','),
    OUTBOX_TOPIC_PATTERN: pattern,
    OUTBOX_SLOT_NAME: slot,
    OUTBOX_PUBLICATION_NAME: publication,
    LOG_LEVEL: 'warn',
  };
  const relay = startService('outbox-relay', env, await freePort());
  return relay;
}

async function drainBench(): Promise<{ sluice: DrainResult; recvlogical: { seconds: number; eventsPerSecond: number } }> {
  const pattern = `${uniqueName('bench_relay')}.\${routedByValue}`;
  const db = await freshDatabase(pattern);
  const topic = await createTopic(pattern, false);
  await createSlot(db.pool, 'bench_sluice', 'bench_pub');
  await createSlot(db.pool, 'bench_ceiling', 'bench_pub');
  const payload = samplePayload(db.codec);
  process.stderr.write(
    `writing a backlog of ${EVENTS.toLocaleString()} outbox events (${payload.length}-byte values, ${PER_TXN} per transaction)\n`,
  );
  let shown = 0;
  await writeBacklog(db.pool, payload, EVENTS, PER_TXN, KEYS, (n) => {
    if (n - shown >= EVENTS / 10 || n === EVENTS) {
      process.stderr.write(`  backlog: ${n.toLocaleString()}\n`);
      shown = n;
    }
  });
  const endLsn = await currentLsn(db.pool);

  process.stderr.write('pg_recvlogical (decode ceiling)\n');
  const ceiling = await recvlogicalDrain(db.url, 'bench_ceiling', 'bench_pub', endLsn);

  process.stderr.write("Sluice's relay\n");
  const started = performance.now();
  const relay = await startRelay(db, pattern, 'bench_sluice', 'bench_pub');
  const sluice = await timeDrain('sluice', topic, EVENTS, started);
  await relay.kill('SIGTERM');
  await db.pool.end();
  await deleteTopics([topic]);
  return { sluice, recvlogical: { seconds: ceiling.seconds, eventsPerSecond: EVENTS / ceiling.seconds } };
}

async function latencyBench(): Promise<LatencyResult[]> {
  const results: LatencyResult[] = [];
  for (const rate of [1_000, 5_000]) {
    const pattern = `${uniqueName('bench_latency')}.\${routedByValue}`;
    const db = await freshDatabase(pattern);
    const topic = await createTopic(pattern, true);
    await createSlot(db.pool, 'bench_sluice', 'bench_pub');
    const relay = await startRelay(db, pattern, 'bench_sluice', 'bench_pub');
    await relay.waitReady();
    process.stderr.write(`commit → Kafka at ${rate.toLocaleString()} events/s for ${LATENCY_SECONDS} s\n`);
    results.push(await steadyLatency(db.pool, samplePayload(db.codec), topic, rate, LATENCY_SECONDS));
    await relay.kill('SIGTERM');
    await db.pool.end();
    await deleteTopics([topic]);
  }
  return results;
}

async function main(): Promise<void> {
  const drain = await drainBench();
  const latency = await latencyBench();
  printTable(
    `drain a backlog of ${EVENTS.toLocaleString()} outbox events (12 partitions, ${KEYS} keys)`,
    ['reader', 'events/s', 'drain s', 'wall s', 'vs ceiling'],
    [
      [
        'pg_recvlogical → /dev/null (ceiling)',
        Math.round(drain.recvlogical.eventsPerSecond),
        drain.recvlogical.seconds,
        drain.recvlogical.seconds,
        1,
      ],
      [
        "Sluice's relay → Kafka",
        Math.round(drain.sluice.eventsPerSecond),
        drain.sluice.drainSeconds,
        drain.sluice.wallSeconds,
        drain.sluice.eventsPerSecond / drain.recvlogical.eventsPerSecond,
      ],
    ],
  );
  printTable(
    'commit → Kafka append latency at a steady rate (ms)',
    ['relay', 'events/s', 'events', 'p50', 'p90', 'p99', 'max'],
    latency.map((l) => ["Sluice's relay", l.ratePerSecond, l.events, l.p50, l.p90, l.p99, l.max]),
  );
  const file = writeResult('relay', { events: EVENTS, eventsPerTxn: PER_TXN, keys: KEYS, drain, latency });
  console.log(`\nwrote ${file}`);
}

main().catch((err: unknown) => {
  console.error(`bench failed: ${err instanceof Error ? err.stack : String(err)}`);
  process.exit(1);
});
