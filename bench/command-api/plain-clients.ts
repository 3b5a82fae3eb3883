import { loadavg } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { runOpenModel, NodeHttpTarget, summarizeLatencies, type Recorder, type Sample } from '../loadgen';
import { reportRun } from '../loadgen/report';
import { writeResult } from '../results';
import { extent, printTable } from '../stats';
import { generatorFirst, option, textOption } from './harness';
import { localBearer } from '../auth';

/**
 * Overload from plain clients against the running platform (`make up`):
 * Node `http` keep-alive agents over `--connections` sockets, no
 * X-Request-Start, no client id, deposits at `--rate` per second for
 * `--duration` seconds between two quiet stretches, through the edge proxy
 * (default) or straight to the command API (`--edge 0`). Prints what the
 * clients got — accepted per second, statuses, admitted p50/p99, refusals
 * and how many carried Retry-After, who refused (edge or API), and how long
 * after the burst the 2xx latency took to come back, whether every accepted
 * deposit reached the read model — and writes JSON to
 * bench/results/.
 *   node dist/bench/command-api/plain-clients.js [--edge 1] [--connections 1024] [--rate 3000]
 *     [--duration 30] [--quiet-rate 100] [--before-sec 5] [--after-sec 15] [--wallets 500]
 *     [--url http://127.0.0.1:8080] [--api http://127.0.0.1:3000] [--query http://127.0.0.1:3001]
 */
const EDGE = option('edge', 1) !== 0;
const API = textOption('api') ?? 'http://127.0.0.1:3000';
const QUERY = textOption('query') ?? 'http://127.0.0.1:3001';
const URL_ = textOption('url') ?? (EDGE ? 'http://127.0.0.1:8080' : API);
const CONNECTIONS = option('connections', 1024);
const RATE = option('rate', 3000);
const DURATION = option('duration', 30);
const QUIET_RATE = option('quiet-rate', 100);
const BEFORE_SEC = option('before-sec', 5);
const AFTER_SEC = option('after-sec', 15);
const WALLETS = option('wallets', 500);
/** A token of the running platform's dev issuer (make up), read at start. */
let auth: Record<string, string> = {};

const is2xx = (s: Sample) => s.status >= 200 && s.status < 300;
const isRefusal = (s: Sample) => s.status === 429 || s.status === 503;

/** The API's refusal counters (drops, admission rejects, rate limits, refused connections), from /metrics. */
async function apiCounters(): Promise<Map<string, number>> {
  const text = await (await fetch(`${API}/metrics`)).text();
  const counters = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!/^sluice_(backpressure_drops|admission_rejects|rate_limited|http_connections_refused)_total/.test(line)) continue;
    const key = line
      .slice(0, line.lastIndexOf(' '))
      .replace(/,?service="[^"]*"/, '')
      .replace('{}', '');
    counters.set(key, Number(line.slice(line.lastIndexOf(' ') + 1)));
  }
  return counters;
}

async function openWallets(target: NodeHttpTarget): Promise<string[]> {
  const wallets: string[] = [];
  for (let i = 0; i < WALLETS; i++) {
    const open = {
      method: 'POST',
      path: '/v1/wallets',
      headers: { ...auth, 'idempotency-key': `plain-open-${process.pid}-${Date.now()}-${i}` },
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
  return wallets;
}

/**
 * Wallets whose read model (the query API, straight) has not reached the highest version a 201
 * reported for them within 60 s: every accepted deposit must get there.
 */
async function readModelBehind(versions: Map<string, number>): Promise<number> {
  const deadline = Date.now() + 60_000;
  let pending = [...versions.entries()];
  while (pending.length > 0 && Date.now() < deadline) {
    const still: [string, number][] = [];
    for (const [walletId, version] of pending) {
      const res = await fetch(`${QUERY}/v1/wallets/${walletId}`, { headers: auth }).catch(() => undefined);
      const view = res?.ok ? ((await res.json()) as { version: number }) : undefined;
      if (!view || view.version < version) still.push([walletId, version]);
    }
    pending = still;
    if (pending.length > 0) await sleep(1_000);
  }
  return pending.length;
}

/** Seconds after the burst until every following second's 2xx p99 is back within normal with nothing failing. */
function recoverySeconds(rec: Recorder): { normalMs: number; seconds: number } {
  const baseline = rec.latency((s) => s.phase === 'before' && is2xx(s)).p99;
  const normalMs = Math.max(2 * baseline, baseline + 20);
  const burstEnd = extent(rec.filter((s) => s.phase === 'burst').map((s) => s.intendedAt)).max / 1000;
  const after = rec.timeline().filter((t) => t.second >= Math.ceil(burstEnd));
  const first = after.findIndex((_, i) => after.slice(i).every((u) => u.okP99 <= normalMs && u.failed === 0));
  return { normalMs, seconds: first < 0 ? Infinity : first };
}

async function main(): Promise<void> {
  auth = await localBearer();
  const target = new NodeHttpTarget(URL_, CONNECTIONS);
  process.stderr.write(
    `plain clients → ${URL_} (${EDGE ? 'through the edge' : 'straight to the API'}), ${CONNECTIONS} connections\n`,
  );
  const wallets = await openWallets(target);
  generatorFirst();
  const warmed = await target.warm(EDGE ? '/edge/health' : '/health/live');
  process.stderr.write(`${warmed} of ${CONNECTIONS} connections open; ${wallets.length} wallets\n`);
  target.sent.length = 0;
  const before = await apiCounters();
  // The machine's load going in: on a shared machine, other work takes cores from the services and the generator.
  const loadBefore = loadavg()[0]!;
  const byEdge = { refused: 0 };
  /** Transport failures by reason; and per wallet, the highest version a 201 reported (to find in the read model). */
  const transport = new Map<string, number>();
  const versions = new Map<string, number>();
  const rec = await runOpenModel(
    target,
    [
      { name: 'before', ratePerSec: QUIET_RATE, durationSec: BEFORE_SEC },
      { name: 'burst', ratePerSec: RATE, durationSec: DURATION },
      { name: 'after', ratePerSec: QUIET_RATE, durationSec: AFTER_SEC },
    ],
    {
      request: (i) => ({
        method: 'POST',
        path: `/v1/wallets/${wallets[i % wallets.length]!}/deposits`,
        headers: { ...auth, 'idempotency-key': `plain-${process.pid}-${Date.now()}-${i}` },
        body: `{"amount":${1 + (i % 97)},"currency":"EUR"}`,
      }),
      onResponse: (_i, _req, res) => {
        if ((res.status === 503 || res.status === 429) && res.body.includes('"stage":"edge"')) byEdge.refused++;
        if (res.status === 0) transport.set(res.body, (transport.get(res.body) ?? 0) + 1);
        if (res.status === 201) {
          const { walletId, version } = JSON.parse(res.body) as { walletId: string; version: number };
          if (version > (versions.get(walletId) ?? 0)) versions.set(walletId, version);
        }
      },
    },
  );
  target.close();
  const after = await apiCounters();
  const behind = await readModelBehind(versions);

  const title = `${RATE}/s for ${DURATION} s from ${CONNECTIONS} plain connections, ${EDGE ? 'through the edge' : 'straight to the API'}`;
  const report = reportRun(title, rec);
  const burst = rec.filter((s) => s.phase === 'burst');
  const { min, max } = extent(burst.map((s) => s.intendedAt));
  const seconds = Math.max(1, (max - min) / 1000);
  const admitted = rec.latency((s) => s.phase === 'burst' && is2xx(s));
  // The burst's, from when each request actually left the generator (its own lag left out).
  const burstFrom = rec.startedAtEpochMs - performance.timeOrigin + BEFORE_SEC * 1000;
  const burstTo = burstFrom + DURATION * 1000;
  const fromSend = summarizeLatencies(
    target.sent.filter((x) => x.at >= burstFrom && x.at < burstTo && x.status >= 200 && x.status < 300).map((x) => x.ms),
  );
  const refused = burst.filter(isRefusal);
  const withRetryAfter = refused.filter((s) => s.hasRetryAfter).length;
  const failed = burst.filter((s) => !is2xx(s) && !isRefusal(s));
  const recovery = recoverySeconds(rec);
  const summary = {
    target: URL_,
    edge: EDGE,
    connections: CONNECTIONS,
    offeredPerSec: RATE,
    durationSec: DURATION,
    acceptedPerSec: Math.round(burst.filter(is2xx).length / seconds),
    admittedP50Ms: admitted.p50,
    admittedP99Ms: admitted.p99,
    admittedFromSendP50Ms: fromSend.p50,
    admittedFromSendP99Ms: fromSend.p99,
    refusals: refused.length,
    refusalsWithRetryAfterShare: refused.length === 0 ? 1 : withRetryAfter / refused.length,
    refusedByEdge: byEdge.refused,
    otherResponses: failed.length,
    statuses: rec.statusCounts((s) => s.phase === 'burst'),
    recoverySec: recovery.seconds,
    recoveryNormalMs: recovery.normalMs,
    generatorSendLagP99Ms: rec.latency().n === 0 ? NaN : summarizeLatencies(rec.sendLag).p99,
    loadAverage1mBefore: loadBefore,
    transportFailures: Object.fromEntries(transport),
    walletsBehindInReadModel: behind,
  };
  printTable(
    `plain clients: ${title}`,
    ['measure', 'value'],
    [
      ['offered deposits/s (burst)', RATE],
      ['accepted deposits/s (burst)', summary.acceptedPerSec],
      [
        'statuses (burst)',
        Object.entries(summary.statuses)
          .map(([k, v]) => `${k}: ${v}`)
          .join(', '),
      ],
      ['admitted p50 / p99 (ms), from intended send', `${admitted.p50.toFixed(1)} / ${admitted.p99.toFixed(1)}`],
      ['admitted p50 / p99 (ms), from actual send', `${fromSend.p50.toFixed(1)} / ${fromSend.p99.toFixed(1)}`],
      ['refusals (429/503)', refused.length],
      ['… with Retry-After', `${(100 * summary.refusalsWithRetryAfterShare).toFixed(1)} %`],
      ['… by the edge itself', byEdge.refused],
      ['other responses (5xx, transport failures)', failed.length],
      ...[...transport.entries()].map(([reason, n]) => [`… transport failure: ${reason}`, n] as [string, number]),
      [`wallets whose read model lacks an accepted deposit after 60 s (of ${versions.size})`, behind],
      [`seconds until 2xx p99 <= ${recovery.normalMs.toFixed(0)} ms after the burst`, recovery.seconds],
      ['generator send lag p99 (ms)', summary.generatorSendLagP99Ms.toFixed(1)],
      ['machine load average (1 min) before the run', loadBefore.toFixed(2)],
    ],
  );
  const apiRefusals = [...after.entries()].map(([k, v]) => [k, v - (before.get(k) ?? 0)] as const).filter(([, v]) => v > 0);
  printTable(
    "the API's own refusal counters during the run",
    ['counter', 'count'],
    apiRefusals.map(([k, v]) => [k, v]),
  );
  const rows = rec.timeline().map((t) => [t.second, t.sent, t.ok, t.refused, t.failed, t.okP50, t.okP99]);
  printTable('per second (by intended send time)', ['s', 'sent', '2xx', '429/503', 'failed', '2xx p50', '2xx p99'], rows);
  const file = writeResult(`command-api-plain-clients-${EDGE ? 'edge' : 'direct'}`, {
    summary,
    apiRefusals: Object.fromEntries(apiRefusals),
    ...report,
  });
  console.log(`\nwrote ${file}`);
}

main()
  .catch((err: unknown) => {
    console.error(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    process.exitCode = 1;
  })
  .finally(() => setTimeout(() => process.exit(), 100));
