import { writeResult } from '../results';
import { printTable } from '../stats';
import { join } from 'node:path';
import { buildDebezium, freePort, startDebezium, startService, testEnv, uniqueName } from '@sluice/testing';
import {
  createSlot,
  currentLsn,
  dropDatabase,
  dropSlots,
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
 * 1. drain a backlog of N outbox events (default 1,000,000): Sluice's relay,
 *    Debezium (embedded engine + Outbox Event Router + Java producer, see
 *    deploy/debezium) and the raw decode ceiling (pg_recvlogical with
 *    pgoutput to /dev/null), each from its own slot over the same WAL;
 * 2. commit → Kafka latency at steady 1,000 and 5,000 events/s, both relays.
 *   node dist/bench/relay/main.js [events=1000000] [latency seconds=20]
 */
const EVENTS = Number(process.argv[2] ?? 1_000_000);
const LATENCY_SECONDS = Number(process.argv[3] ?? 20);
const PER_TXN = 1_000;
const KEYS = 10_000;

type RelayName = 'sluice' | 'sluice-platformatic' | 'debezium';
const LABELS: Record<RelayName, string> = {
  sluice: "Sluice's relay (kafkajs)",
  'sluice-platformatic': "Sluice's relay (@platformatic/kafka)",
  debezium: 'Debezium embedded',
};

async function startRelay(
  db: BenchDb,
  pattern: string,
  slot: string,
  publication: string,
  client: 'kafkajs' | 'platformatic',
  mode: 'wal' | 'polling' = 'wal',
) {
  const env = {
    RELAY_MODE: mode,
    RELAY_KAFKA_CLIENT: client,
    DATABASE_URL: db.url,
    ...testEnv.kafkaEnv,
    OUTBOX_TOPIC_PATTERN: pattern,
    OUTBOX_SLOT_NAME: slot,
    OUTBOX_PUBLICATION_NAME: publication,
    LOG_LEVEL: 'warn',
  };
  const relay = startService('outbox-relay', env, await freePort());
  return relay;
}

/**
 * Debezium's engine tuned for throughput and latency rather than its defaults
 * (poll.interval.ms=500 alone would dominate the latency test): bigger batches
 * and queue, a 10 ms poll interval.
 */
const DEBEZIUM_TUNING = { ENGINE_MAX_BATCH_SIZE: '4096', ENGINE_MAX_QUEUE_SIZE: '16384', ENGINE_POLL_INTERVAL_MS: '10' };

async function startDebeziumOn(db: BenchDb, pattern: string, slot: string) {
  return startDebezium({
    databaseUrl: db.url,
    slot,
    publication: 'bench_pub',
    offsetFile: join(__dirname, `../../../.run/debezium/bench-${slot}-${Date.now()}.offsets`),
    topicPattern: pattern,
    env: DEBEZIUM_TUNING,
  });
}

/** A progress line every tenth of the backlog written. */
function backlogProgress(): (n: number) => void {
  let shown = 0;
  return (n) => {
    if (n - shown >= EVENTS / 10 || n === EVENTS) {
      process.stderr.write(`  backlog: ${n.toLocaleString()}\n`);
      shown = n;
    }
  };
}

async function drainBench(): Promise<{
  sluice: DrainResult;
  platformatic: DrainResult;
  debezium: DrainResult;
  polling: DrainResult;
  recvlogical: { seconds: number; eventsPerSecond: number };
}> {
  const pattern = `${uniqueName('bench_relay')}.\${routedByValue}`;
  const pfPattern = `${uniqueName('bench_pf')}.\${routedByValue}`;
  const dbzPattern = `${uniqueName('bench_dbz')}.\${routedByValue}`;
  const db = await freshDatabase(pattern);
  const topic = await createTopic(pattern, false);
  const pfTopic = await createTopic(pfPattern, false);
  const dbzTopic = await createTopic(dbzPattern, false);
  await createSlot(db.pool, 'bench_sluice', 'bench_pub');
  await createSlot(db.pool, 'bench_platformatic', 'bench_pub');
  await createSlot(db.pool, 'bench_debezium', 'bench_pub');
  await createSlot(db.pool, 'bench_ceiling', 'bench_pub');
  const payload = samplePayload(db.codec);
  process.stderr.write(
    `writing a backlog of ${EVENTS.toLocaleString()} outbox events (${payload.length}-byte values, ${PER_TXN} per transaction)\n`,
  );
  await writeBacklog(db.pool, payload, EVENTS, PER_TXN, KEYS, backlogProgress());
  const endLsn = await currentLsn(db.pool);

  process.stderr.write('pg_recvlogical (decode ceiling)\n');
  const ceiling = await recvlogicalDrain(db.url, 'bench_ceiling', 'bench_pub', endLsn);

  const drainWith = async (client: 'kafkajs' | 'platformatic', slot: string, p: string, t: string) => {
    process.stderr.write(`Sluice's relay (${client})\n`);
    const started = performance.now();
    const relay = await startRelay(db, p, slot, 'bench_pub', client);
    const result = await timeDrain(`sluice/${client}`, t, EVENTS, started);
    await relay.kill('SIGTERM');
    return result;
  };
  const sluice = await drainWith('kafkajs', 'bench_sluice', pattern, topic);
  const platformatic = await drainWith('platformatic', 'bench_platformatic', pfPattern, pfTopic);

  process.stderr.write('Debezium (embedded engine)\n');
  const dbzStarted = performance.now();
  const dbz = await startDebeziumOn(db, dbzPattern, 'bench_debezium');
  const debezium = await timeDrain('debezium', dbzTopic, EVENTS, dbzStarted);
  await dbz.stop();

  // The polling relay reads the table itself: the same backlog again, its rows kept.
  await dropSlots(db.pool);
  const pollPattern = `${uniqueName('bench_poll')}.\${routedByValue}`;
  const pollTopic = await createTopic(pollPattern, false);
  process.stderr.write(`writing ${EVENTS.toLocaleString()} outbox rows for the polling relay (kept in the table)\n`);
  await writeBacklog(db.pool, payload, EVENTS, PER_TXN, KEYS, backlogProgress(), true);
  process.stderr.write("Sluice's relay, polling mode (@platformatic/kafka)\n");
  const pollStarted = performance.now();
  const pollRelay = await startRelay(db, pollPattern, 'unused', 'unused', 'platformatic', 'polling');
  const polling = await timeDrain('sluice/polling', pollTopic, EVENTS, pollStarted);
  await pollRelay.kill('SIGTERM');
  await db.pool.end();
  await deleteTopics([topic, pfTopic, dbzTopic, pollTopic]);
  return {
    sluice,
    platformatic,
    debezium,
    polling,
    recvlogical: { seconds: ceiling.seconds, eventsPerSecond: EVENTS / ceiling.seconds },
  };
}

async function latencyBench(): Promise<(LatencyResult & { relay: RelayName })[]> {
  const results: (LatencyResult & { relay: RelayName })[] = [];
  for (const rate of [1_000, 5_000]) {
    for (const relayName of ['sluice', 'sluice-platformatic', 'debezium'] as const) {
      const pattern = `${uniqueName('bench_latency')}.\${routedByValue}`;
      const db = await freshDatabase(pattern);
      const topic = await createTopic(pattern, true);
      await createSlot(db.pool, 'bench_latency', 'bench_pub');
      const stop =
        relayName !== 'debezium'
          ? await (async () => {
              const client = relayName === 'sluice' ? 'kafkajs' : 'platformatic';
              const relay = await startRelay(db, pattern, 'bench_latency', 'bench_pub', client);
              await relay.waitReady();
              return () => relay.kill('SIGTERM');
            })()
          : await (async () => {
              const dbz = await startDebeziumOn(db, pattern, 'bench_latency');
              return () => dbz.stop();
            })();
      process.stderr.write(`${relayName}: commit → Kafka at ${rate.toLocaleString()} events/s for ${LATENCY_SECONDS} s\n`);
      results.push({
        relay: relayName,
        ...(await steadyLatency(db.pool, samplePayload(db.codec), topic, rate, LATENCY_SECONDS)),
      });
      await stop();
      await db.pool.end();
      await deleteTopics([topic]);
    }
  }
  return results;
}

async function main(): Promise<void> {
  process.stderr.write(`building the Debezium harness (if needed): ${await buildDebezium()} ms\n`);
  const drain = await drainBench();
  const latency = await latencyBench();
  const row = (label: string, r: DrainResult) => [
    label,
    Math.round(r.eventsPerSecond),
    r.drainSeconds,
    r.wallSeconds,
    r.eventsPerSecond / drain.recvlogical.eventsPerSecond,
  ];
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
      row(`${LABELS.sluice} → Kafka`, drain.sluice),
      row(`${LABELS['sluice-platformatic']} → Kafka`, drain.platformatic),
      row(`${LABELS.debezium} → Kafka`, drain.debezium),
      row("Sluice's relay, polling mode (@platformatic/kafka) → Kafka", drain.polling),
    ],
  );
  const ratio = (r: DrainResult) => (r.eventsPerSecond / drain.debezium.eventsPerSecond).toFixed(2);
  console.log(
    `\nSluice / Debezium drain rate: kafkajs ${ratio(drain.sluice)}×, @platformatic/kafka ${ratio(drain.platformatic)}×`,
  );
  printTable(
    'commit → Kafka append latency at a steady rate (ms)',
    ['relay', 'events/s', 'events', 'p50', 'p90', 'p99', 'max'],
    latency.map((l) => [LABELS[l.relay], l.ratePerSecond, l.events, l.p50, l.p90, l.p99, l.max]),
  );
  await dropDatabase();
  const file = writeResult('relay', { events: EVENTS, eventsPerTxn: PER_TXN, keys: KEYS, drain, latency });
  console.log(`\nwrote ${file}`);
}

main().catch((err: unknown) => {
  console.error(`bench failed: ${err instanceof Error ? err.stack : String(err)}`);
  process.exit(1);
});
