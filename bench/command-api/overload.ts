import { setTimeout as sleep } from 'node:timers/promises';
import { Client } from 'pg';
import { AvroEventCodec, createKafka, ensureTopics, routeTopic } from '@sluice/messaging';
import { createLogger } from '@sluice/observability';
import { walletCatalog, type FundsDeposited } from '@sluice/schemas';
import { testEnv, uniqueName, waitFor } from '@sluice/testing';
import { HttpTarget, runClosedModel, runOpenModel, type Recorder } from '../loadgen';
import { reportRun } from '../loadgen/report';
import { writeResult } from '../results';
import { extent, printTable } from '../stats';
import { benchEnv, generatorFirst, option } from './harness';
import { benchBearer } from '../auth';

/**
 * Overload: an open-model burst at 3× the measured capacity against the whole
 * pipeline (command API → WAL → relay → Kafka → projector → read model).
 * Passes when the admitted requests keep p99 <= 400 ms, every refusal is a
 * 429/503 carrying Retry-After and nothing else fails, every accepted deposit
 * is in the database, in Kafka and in the read model, and latency is back to
 * normal within 10 s after the burst.
 *   node dist/bench/command-api/overload.js [--burst-sec 60] [--factor 3] [--capacity N] [--users 64] [--wallets 500]
 */
const BURST_SEC = option('burst-sec', 60);
const FACTOR = option('factor', 3);
const WALLETS = option('wallets', 500);
const BASE_SEC = option('base-sec', 10);
const AFTER_SEC = option('after-sec', 20);
const CAPACITY = option('capacity', 0);
const POOL = option('pool', 10);
/** Users of the capacity probe: as many requests as the API admits to its database stage at once (DB_ADMISSION_MAX_LIMIT). */
const USERS = option('users', 64);
const CLIENTS = 50;

/** Why the API refused what it refused: its drop and admission-reject counters, from /metrics. */
async function refusalsByStage(url: string): Promise<{ metric: string; labels: string; count: number }[]> {
  const text = await (await fetch(`${url}/metrics`)).text();
  return text
    .split('\n')
    .filter((l) => /^sluice_(backpressure_drops|admission_rejects|rate_limited)_total\{/.test(l))
    .map((l) => ({
      metric: l.slice(0, l.indexOf('{')),
      labels: l.slice(l.indexOf('{') + 1, l.lastIndexOf('}')).replace(/,?service="[^"]*"/, ''),
      count: Number(l.slice(l.lastIndexOf(' ') + 1)),
    }))
    .filter((r) => r.count > 0);
}

interface Accepted {
  depositId: string;
  walletId: string;
  amount: number;
}

async function main(): Promise<void> {
  const bench = await benchEnv('overload', { RELAY_RECONNECT_MAX_MS: '500' });
  const logger = createLogger('bench', 'warn');
  const topic = routeTopic(bench.env.OUTBOX_TOPIC_PATTERN!, 'wallet');
  const kafka = createKafka({ ...testEnv.kafka, clientId: 'bench-overload', logger });
  try {
    await ensureTopics(kafka, [{ topic, partitions: 12, retainForever: true }]);
    const api = await bench.start('command-api', { DB_POOL_MAX: String(POOL) });
    await Promise.all([bench.start('outbox-relay'), bench.start('projector')]);
    generatorFirst();
    // The generator plays the edge proxy too: its X-Request-Start lets the API count time a
    // request queued before it was read (and refuse one already out of budget at once).
    const target = new HttpTarget(api.url, 256, 30_000, true);
    await target.warm();

    const auth = await benchBearer();
    const clients = await Promise.all(Array.from({ length: CLIENTS }, (_, c) => benchBearer(`client-${c}`)));
    const wallets: string[] = [];
    for (let i = 0; i < WALLETS; i++) {
      const open = {
        method: 'POST',
        path: '/v1/wallets',
        headers: { ...auth, 'idempotency-key': `ov-open-${process.pid}-${i}` },
        body: '{"currency":"EUR"}',
      };
      let res = await target.send(open);
      for (let attempt = 0; (res.status === 503 || res.status === 429) && attempt < 10; attempt++) {
        await sleep(Number(res.retryAfter ?? 1) * 1000);
        res = await target.send(open);
      }
      if (res.status !== 201) throw new Error(`opening a wallet failed: ${res.status} ${res.body}`);
      wallets.push((JSON.parse(res.body) as { walletId: string }).walletId);
    }
    const accepted: Accepted[] = [];
    const deposit = (tag: string) => (i: number) => ({
      method: 'POST',
      path: `/v1/wallets/${wallets[i % wallets.length]!}/deposits`,
      // Each client its own subject: the per-principal ingress buckets count them apart.
      headers: { ...clients[i % CLIENTS]!, 'idempotency-key': `ov-${tag}-${process.pid}-${i}` },
      body: `{"amount":${1 + (i % 97)},"currency":"EUR"}`,
    });
    const amounts = new Map<string, number>();
    const onResponse = (_i: number, req: { body?: string }, res: { status: number; body: string }) => {
      if (res.status !== 201) return;
      const { depositId, walletId } = JSON.parse(res.body) as { depositId: string; walletId: string };
      const { amount } = JSON.parse(req.body ?? '{}') as { amount: number };
      accepted.push({ depositId, walletId, amount });
      amounts.set(walletId, (amounts.get(walletId) ?? 0) + amount);
    };

    // Capacity: what as many users as the API admits at once get through (full concurrency, no queue).
    let capacity = CAPACITY;
    if (!capacity) {
      process.stderr.write(`measuring capacity (closed model, ${USERS} users, 10 s)\n`);
      const probe = await runClosedModel(
        target,
        { users: USERS, durationSec: 10, phase: 'capacity' },
        { request: deposit('cap'), onResponse },
      );
      capacity = Math.max(10, Math.round(probe.filter((s) => s.status === 201).length / 10));
    }
    const base = Math.max(5, Math.round(capacity / 2));
    const burst = Math.round(capacity * FACTOR);
    process.stderr.write(
      `capacity ${capacity}/s: base ${base}/s for ${BASE_SEC} s, burst ${burst}/s for ${BURST_SEC} s, base for ${AFTER_SEC} s\n`,
    );
    const rec = await runOpenModel(
      target,
      [
        { name: 'before', ratePerSec: base, durationSec: BASE_SEC },
        { name: 'burst', ratePerSec: burst, durationSec: BURST_SEC },
        { name: 'after', ratePerSec: base, durationSec: AFTER_SEC },
      ],
      { request: deposit('run'), onResponse },
    );
    target.close();
    const report = reportRun(`overload at ${FACTOR}× capacity (${burst}/s)`, rec);
    const refusals = await refusalsByStage(api.url);
    printTable(
      'refusals by the API, by stage and reason (its own counters)',
      ['metric', 'labels', 'count'],
      refusals.map((r) => [r.metric, r.labels, r.count]),
    );
    const checks = await verify(
      rec,
      accepted,
      amounts,
      bench.db.url,
      kafka,
      topic,
      bench.env.SCHEMA_REGISTRY_URL!,
      bench.env.OUTBOX_TOPIC_PATTERN!,
    );
    printTable(
      'overload checks',
      ['check', 'value', 'pass'],
      checks.map((c) => [c.name, c.value, c.pass ? 'yes' : 'NO']),
    );
    printTimeline(rec);
    const file = writeResult('command-api-overload', {
      capacity,
      base,
      burst,
      burstSec: BURST_SEC,
      factor: FACTOR,
      checks,
      refusals,
      ...report,
    });
    console.log(`\nwrote ${file}`);
    if (checks.some((c) => !c.pass)) process.exitCode = 2;
  } finally {
    await bench.close();
  }
}

interface Check {
  name: string;
  value: string | number;
  pass: boolean;
}

async function verify(
  rec: Recorder,
  accepted: Accepted[],
  amounts: Map<string, number>,
  url: string,
  kafka: ReturnType<typeof createKafka>,
  topic: string,
  registryUrl: string,
  pattern: string,
): Promise<Check[]> {
  const checks: Check[] = [];
  const burstOk = rec.latency((s) => s.phase === 'burst' && s.status === 201);
  checks.push({ name: 'admitted p99 during the burst (ms)', value: burstOk.p99.toFixed(1), pass: burstOk.p99 <= 400 });
  const bad = rec.filter((s) => s.status !== 201 && s.status !== 429 && s.status !== 503);
  checks.push({ name: 'responses other than 201/429/503 (5xx, transport errors)', value: bad.length, pass: bad.length === 0 });
  const refused = rec.filter((s) => s.status === 429 || s.status === 503);
  const noRetryAfter = refused.filter((s) => !s.hasRetryAfter).length;
  checks.push({ name: `refusals without Retry-After (of ${refused.length})`, value: noRetryAfter, pass: noRetryAfter === 0 });

  // Recovery: seconds after the burst until the 2xx p99 of each second is back within normal.
  const timeline = rec.timeline();
  const baseline = rec.latency((s) => s.phase === 'before' && s.status === 201).p99;
  const normal = Math.max(2 * baseline, baseline + 20);
  const burstEnd = extent(rec.filter((s) => s.phase === 'burst').map((s) => s.intendedAt)).max / 1000;
  const after = timeline.filter((t) => t.second >= Math.ceil(burstEnd));
  const firstNormal = after.findIndex((t, i) => after.slice(i).every((u) => u.okP99 <= normal && u.failed === 0));
  const recoverySec = firstNormal < 0 ? Infinity : firstNormal;
  checks.push({
    name: `seconds until 2xx p99 <= ${normal.toFixed(0)} ms after the burst`,
    value: recoverySec,
    pass: recoverySec <= 10,
  });

  const db = new Client({ connectionString: url });
  await db.connect();
  try {
    const ids = accepted.map((a) => a.depositId);
    const { rows } = await db.query<{ n: string }>('SELECT count(*)::text AS n FROM deposits WHERE id = ANY($1::uuid[])', [ids]);
    checks.push({
      name: `accepted deposits in the database (of ${ids.length})`,
      value: Number(rows[0]!.n),
      pass: Number(rows[0]!.n) === ids.length,
    });

    const inKafka = await depositIdsInKafka(
      kafka,
      topic,
      AvroEventCodec.connect(registryUrl, [walletCatalog], pattern),
      new Set(ids),
    );
    const missing = ids.filter((id) => !inKafka.has(id)).length;
    checks.push({ name: 'accepted deposits missing from Kafka', value: missing, pass: missing === 0 });

    // A deposit answered with an error must not have happened (a retry with its key would replay it, but the
    // front door should not leave the caller in doubt): everything in the table was answered 201.
    const { rows: all } = await db.query<{ n: string }>('SELECT count(*)::text AS n FROM deposits');
    const extra = Number(all[0]!.n) - ids.length;
    checks.push({ name: 'deposits in the database that were answered with an error', value: extra, pass: extra === 0 });
    const sums = await db.query<{ wallet_id: string; balance: string }>(
      'SELECT id::text AS wallet_id, balance::text FROM wallets',
    );
    const wrong = sums.rows.filter((w) => Number(w.balance) !== (amounts.get(w.wallet_id) ?? 0)).length;
    checks.push({ name: 'wallets whose balance differs from the sum of their 201s', value: wrong, pass: wrong === 0 });

    // The read model converges to the command side, wallet by wallet (balance and version).
    let behind = -1;
    try {
      await waitFor(
        'the read model to catch up with the command side',
        async () => {
          const { rows: diff } = await db.query<{ n: string }>(
            `SELECT count(*)::text AS n FROM wallets w LEFT JOIN wallet_balances v ON v.wallet_id = w.id
              WHERE v.wallet_id IS NULL OR v.balance <> w.balance OR v.version <> w.version`,
          );
          behind = Number(diff[0]!.n);
          return behind === 0;
        },
        { timeoutMs: 180_000, intervalMs: 1_000 },
      );
    } catch {
      // reported below
    }
    checks.push({
      name: `wallets whose read model differs from the command side (of ${sums.rows.length})`,
      value: behind,
      pass: behind === 0,
    });
  } finally {
    await db.end();
  }
  return checks;
}

/**
 * Reads the event topic from the beginning until every expected deposit id
 * was seen (or two minutes passed). Counting records by offsets would not do:
 * transaction markers take offsets too.
 */
async function depositIdsInKafka(
  kafka: ReturnType<typeof createKafka>,
  topic: string,
  codec: AvroEventCodec,
  expected: Set<string>,
): Promise<Set<string>> {
  const seen = new Set<string>();
  if (expected.size === 0) return seen;
  const consumer = kafka.consumer({ groupId: uniqueName('bench_overload_check'), allowAutoTopicCreation: false });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 120_000);
      let found = 0;
      void consumer.run({
        autoCommit: false,
        eachMessage: async ({ message }) => {
          if (message.headers?.type?.toString() !== 'FundsDeposited' || !message.value) return;
          const id = ((await codec.decode(message.value)).data as FundsDeposited).depositId;
          if (!seen.has(id)) {
            seen.add(id);
            if (expected.has(id) && ++found === expected.size) {
              clearTimeout(timer);
              resolve();
            }
          }
        },
      });
    });
  } finally {
    await consumer.disconnect();
  }
  return seen;
}

function printTimeline(rec: Recorder): void {
  const rows = rec.timeline().map((t) => [t.second, t.sent, t.ok, t.refused, t.failed, t.okP50, t.okP99]);
  printTable('per second (by intended send time)', ['s', 'sent', '2xx', '429/503', 'failed', '2xx p50', '2xx p99'], rows);
}

main()
  .catch((err: unknown) => {
    console.error(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    process.exitCode = 1;
  })
  // Kafka clients and keep-alive sockets may linger; the result is written.
  .finally(() => setTimeout(() => process.exit(), 100));
