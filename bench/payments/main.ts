import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { createPool, type Pool } from '@sluice/db';
import { checkInvariants, fetchExecutedPayouts } from '@sluice/invariants';
import { createKafka, ensureTopics, routeTopic } from '@sluice/messaging';
import { createLogger } from '@sluice/observability';
import { freePort, startService, testEnv, type ServiceProcess } from '@sluice/testing';
import { benchEnv, option } from '../command-api/harness';
import { writeResult } from '../results';
import { printTable, summarize } from '../stats';
import { benchBearer } from '../auth';

/**
 * Withdrawals end to end against the PSP simulator, every component its own
 * process on a throwaway database:
 * 1. steady: `--rate` withdrawals/s (open model) for `--duration` s with the
 *    provider `--latency-ms` slower; withdrawals/s completed, 202 latency and
 *    202 → final state (completed or compensated on the command side);
 * 2. outage: the provider down for `--outage-sec` s while withdrawals keep
 *    arriving at `--outage-rate`/s; the saga queue depth (requested,
 *    submitted, parked) every second, and the time to drain once it is back
 *    (arrivals stop when the outage ends).
 * Then the money invariants against the provider's books.
 *   node dist/bench/payments/main.js [--rate 20] [--duration 30] [--latency-ms 300] [--outage-sec 60] [--outage-rate 20] [--wallets 50]
 */
const rate = option('rate', 20);
const durationSec = option('duration', 30);
const latencyMs = option('latency-ms', 300);
const outageSec = option('outage-sec', 60);
const outageRate = option('outage-rate', rate);
const walletCount = option('wallets', 50);
const AMOUNT = 100;

interface Sent {
  id: string;
  sentAt: number;
  acceptedAt: number;
  phase: 'steady' | 'outage';
}

async function main(): Promise<void> {
  const bench = await benchEnv('payments', { LOG_LEVEL: 'warn' });
  const extra: ServiceProcess[] = [];
  const pool = createPool({ url: bench.env.DATABASE_URL!, applicationName: 'bench-payments', max: 4 });
  try {
    const kafka = createKafka({
      ...testEnv.kafka,
      clientId: 'bench-payments',
      logger: createLogger('bench', 'warn'),
    });
    await ensureTopics(kafka, [
      { topic: routeTopic(bench.env.OUTBOX_TOPIC_PATTERN!, 'wallet'), partitions: 12, retainForever: true },
    ]);
    progress('starting command-api, outbox-relay, projector, query-api, psp-simulator, payments-worker');
    const command = await bench.start('command-api');
    await Promise.all([bench.start('outbox-relay'), bench.start('projector')]);
    const [pspPort, workerPort] = [await freePort(), await freePort()];
    const psp = startService(
      'psp-simulator',
      { ...bench.env, PSP_WEBHOOK_URL: `http://127.0.0.1:${workerPort}/v1/psp/webhooks` },
      pspPort,
    );
    const worker = startService('payments-worker', { ...bench.env, PSP_URL: psp.url }, workerPort);
    extra.push(psp, worker);
    await Promise.all([psp.waitReady(), worker.waitReady(90_000)]);
    const faults = async (f: Record<string, unknown>) => {
      const res = await fetch(`${psp.url}/admin/faults`, { method: 'PUT', body: JSON.stringify(f) });
      if (!res.ok) throw new Error(`faults → ${res.status}`);
    };

    const auth = await benchBearer();
    const post = async (
      path: string,
      body: unknown,
    ): Promise<{ status: number; json: Record<string, unknown>; retries: number }> => {
      const key = randomUUID();
      for (let retries = 0; ; retries++) {
        const res = await fetch(`${command.url}${path}`, {
          method: 'POST',
          headers: { ...auth, 'content-type': 'application/json', 'idempotency-key': key },
          body: JSON.stringify(body),
        });
        const json = (await res.json()) as Record<string, unknown>;
        if ((res.status !== 429 && res.status !== 503) || retries >= 20) return { status: res.status, json, retries };
        await sleep(Number(res.headers.get('retry-after') ?? 1) * 1000);
      }
    };
    progress(`opening ${walletCount} wallets`);
    const wallets: string[] = [];
    for (let i = 0; i < walletCount; i++) {
      const w = await post('/v1/wallets', { currency: 'EUR' });
      const walletId = String(w.json.walletId);
      await post(`/v1/wallets/${walletId}/deposits`, { amount: 1_000_000_000, currency: 'EUR' });
      wallets.push(walletId);
    }

    const sent: Sent[] = [];
    let refused = 0;
    let retried = 0;
    const inFlight = new Set<Promise<void>>();
    const offer = (perSec: number, seconds: number, phase: Sent['phase'], isOver: () => boolean = () => false): Promise<void> =>
      (async () => {
        const start = performance.now();
        for (let i = 0; ; i++) {
          const at = start + (i * 1000) / perSec;
          if (at - start >= seconds * 1000 || isOver()) break;
          const wait = at - performance.now();
          if (wait > 0) await sleep(wait);
          const sentAt = Date.now();
          const walletId = wallets[i % wallets.length]!;
          const p = post(`/v1/wallets/${walletId}/withdrawals`, { amount: AMOUNT, currency: 'EUR' }).then((r) => {
            retried += r.retries;
            if (r.status === 202) sent.push({ id: String(r.json.withdrawalId), sentAt, acceptedAt: Date.now(), phase });
            else refused++;
          });
          inFlight.add(p);
          void p.finally(() => inFlight.delete(p));
        }
        await Promise.all([...inFlight]);
      })();

    // Phase 1: steady state with a slow provider.
    await faults({ latencyMs });
    progress(`steady: ${rate} withdrawals/s for ${durationSec} s, provider +${latencyMs} ms`);
    const steadyStart = Date.now();
    const ticker = setInterval(() => progress(`  ${sent.length} accepted`), 5_000);
    await offer(rate, durationSec, 'steady');
    clearInterval(ticker);
    const steadyIds = sent.filter((s) => s.phase === 'steady');
    const steadyFinal = await waitFinal(
      pool,
      steadyIds.map((s) => s.id),
      120_000,
    );
    const steadyEnd = Math.max(...[...steadyFinal.values()].map((f) => f.at));

    // Phase 2: the provider down while withdrawals keep coming.
    progress(`outage: provider down for ${outageSec} s, ${outageRate} withdrawals/s arriving`);
    await faults({ down: true });
    const outageStart = Date.now();
    let outageOver = false;
    const timeline: { t: number; requested: number; submitted: number; parked: number; open: number }[] = [];
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const depth = await queueDepth(pool);
        timeline.push({ t: Math.round((Date.now() - outageStart) / 1000), ...depth });
        if (timeline.length % 5 === 0) progress(`  t=${timeline.at(-1)!.t}s depth ${JSON.stringify(depth)}`);
        await sleep(1_000);
      }
    })();
    const arrivals = offer(outageRate, outageSec, 'outage', () => outageOver);
    await sleep(outageSec * 1000);
    await faults({ down: false });
    outageOver = true;
    const backAt = Date.now();
    await arrivals;
    const outageIds = sent.filter((s) => s.phase === 'outage');
    progress(`provider back; draining ${outageIds.length} withdrawals`);
    const outageFinal = await waitFinal(
      pool,
      outageIds.map((s) => s.id),
      600_000,
    );
    const drainedAt = Math.max(backAt, ...[...outageFinal.values()].map((f) => f.at));
    sampling = false;
    await sampler;

    const payouts = await fetchExecutedPayouts(psp.url);
    const report = await checkInvariants({ pool, payouts, settled: true });

    const latency = (list: Sent[], finals: Map<string, { at: number; status: string }>) =>
      summarize(list.map((s) => finals.get(s.id)!.at - s.acceptedAt));
    const accept = summarize(steadyIds.map((s) => s.acceptedAt - s.sentAt));
    const steadyLatency = latency(steadyIds, steadyFinal);
    const outageLatency = latency(outageIds, outageFinal);
    const completedPerSec = steadyIds.length / ((steadyEnd - steadyStart) / 1000);
    printTable(
      `steady: ${rate} withdrawals/s offered for ${durationSec} s, provider +${latencyMs} ms (ms)`,
      ['measure', 'n', 'p50', 'p90', 'p99', 'max'],
      [
        ['POST withdrawal → 202', accept.n, accept.p50, accept.p90, accept.p99, accept.max],
        ['202 → final state', steadyLatency.n, steadyLatency.p50, steadyLatency.p90, steadyLatency.p99, steadyLatency.max],
      ],
    );
    printTable(
      'throughput',
      ['measure', 'value'],
      [
        ['withdrawals accepted (steady)', steadyIds.length],
        ['withdrawals/s end to end (first request → last final)', completedPerSec],
        ['refused after retries (429/503)', refused],
        ['429/503 retried with Retry-After', retried],
      ],
    );
    const peak = timeline.reduce(
      (m, x) => (x.open > m.open ? x : m),
      timeline[0] ?? { t: 0, requested: 0, submitted: 0, parked: 0, open: 0 },
    );
    printTable(
      `outage: provider down ${outageSec} s, ${outageRate} withdrawals/s arriving; saga queue depth`,
      ['t (s)', 'requested', 'submitted', 'parked', 'in flight'],
      timeline
        .filter((x, i) => i % 5 === 0 || x === peak || i === timeline.length - 1)
        .map((x) => [x.t, x.requested, x.submitted, x.parked, x.open]),
    );
    printTable(
      'outage recovery',
      ['measure', 'value'],
      [
        ['withdrawals accepted during the outage', outageIds.length],
        ['peak queue depth (in flight)', peak.open],
        ['failed during the outage', [...outageFinal.values()].filter((f) => f.status !== 'completed').length],
        ['time to drain after the provider is back (s)', (drainedAt - backAt) / 1000],
        ['202 → final p50 / p99 (s)', `${(outageLatency.p50 / 1000).toFixed(1)} / ${(outageLatency.p99 / 1000).toFixed(1)}`],
        ['invariants', report.ok ? 'hold' : report.violations.map((v) => v.code).join(', ')],
      ],
    );
    const file = writeResult('payments', {
      options: { rate, durationSec, latencyMs, outageSec, outageRate, wallets: walletCount },
      steady: {
        accepted: steadyIds.length,
        acceptMs: accept,
        acceptedToFinalMs: steadyLatency,
        completedPerSec,
        refused,
        retried,
      },
      outage: {
        accepted: outageIds.length,
        timeline,
        peakDepth: peak.open,
        drainSec: (drainedAt - backAt) / 1000,
        acceptedToFinalMs: outageLatency,
      },
      invariants: report,
    });
    console.log(`\nwrote ${file}`);
    if (!report.ok) process.exitCode = 2;
  } finally {
    await Promise.all(extra.map((s) => s.kill('SIGTERM')));
    await pool.end();
    await bench.close();
  }
}

/** Polls the command side until every withdrawal is completed or compensated; resolves with when each got there. */
async function waitFinal(pool: Pool, ids: string[], timeoutMs: number): Promise<Map<string, { at: number; status: string }>> {
  const done = new Map<string, { at: number; status: string }>();
  const deadline = Date.now() + timeoutMs;
  while (done.size < ids.length) {
    const open = ids.filter((id) => !done.has(id));
    const { rows } = await pool.query<{ id: string; status: string; updated_at: Date }>(
      `SELECT id, status, updated_at FROM withdrawals WHERE id = ANY($1::uuid[]) AND status IN ('completed', 'compensated')`,
      [open],
    );
    for (const r of rows) done.set(r.id, { at: r.updated_at.getTime(), status: r.status });
    if (done.size < ids.length) {
      if (Date.now() > deadline) throw new Error(`${ids.length - done.size} withdrawals not final after ${timeoutMs} ms`);
      await sleep(200);
    }
  }
  return done;
}

async function queueDepth(pool: Pool): Promise<{ requested: number; submitted: number; parked: number; open: number }> {
  const { rows } = await pool.query<{ requested: number; submitted: number; parked: number }>(
    `SELECT count(*) FILTER (WHERE state = 'requested')::int AS requested,
            count(*) FILTER (WHERE state = 'submitted')::int AS submitted,
            count(*) FILTER (WHERE parked_at IS NOT NULL)::int AS parked
       FROM payment_sagas WHERE state IN ('requested', 'submitted')`,
  );
  const r = rows[0]!;
  const { rows: waiting } = await pool.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM withdrawals WHERE status IN ('requested', 'submitted')`,
  );
  return { ...r, open: waiting[0]!.n };
}

function progress(message: string): void {
  process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${message}\n`);
}

main().catch((err: unknown) => {
  console.error(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  process.exit(1);
});
