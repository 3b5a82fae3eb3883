import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { writeResult } from '../results';
import { printTable, summarize } from '../stats';
import { localBearer } from '../auth';

/**
 * Deposit accepted → balance visible: the time from the command API's 201 to
 * the moment the query API first shows the deposit's version, measured over
 * N deposits against the running platform (make up).
 *   node dist/bench/pipeline-latency/main.js [deposits=200] [command url] [query url]
 */
const count = Number(process.argv[2] ?? 200);
const commandUrl = process.argv[3] ?? 'http://127.0.0.1:3000';
const queryUrl = process.argv[4] ?? 'http://127.0.0.1:3001';
const POLL_MS = 1;

async function json(res: Response): Promise<Record<string, unknown>> {
  const body = (await res.json()) as Record<string, unknown>;
  if (!res.ok) throw new Error(`${res.status} ${JSON.stringify(body)}`);
  return body;
}

async function main(): Promise<void> {
  const auth = await localBearer();
  const wallet = await json(
    await fetch(`${commandUrl}/v1/wallets`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json', 'idempotency-key': randomUUID() },
      body: '{"currency":"EUR"}',
    }),
  );
  const walletId = String(wallet.walletId);
  const visible: number[] = [];
  const accept: number[] = [];
  for (let i = 0; i < count; i++) {
    const sent = performance.now();
    const dep = await json(
      await fetch(`${commandUrl}/v1/wallets/${walletId}/deposits`, {
        method: 'POST',
        headers: { ...auth, 'content-type': 'application/json', 'idempotency-key': `bench-${walletId}-${i}` },
        body: JSON.stringify({ amount: 100, currency: 'EUR' }),
      }),
    );
    const accepted = performance.now();
    accept.push(accepted - sent);
    for (;;) {
      const res = await fetch(`${queryUrl}/v1/wallets/${walletId}`, { headers: auth });
      if (res.ok && ((await res.json()) as { version: number }).version >= Number(dep.version)) break;
      if (performance.now() - accepted > 10_000) throw new Error(`deposit ${i} not visible after 10 s`);
      await sleep(POLL_MS);
    }
    visible.push(performance.now() - accepted);
    if ((i + 1) % 50 === 0) process.stderr.write(`  ${i + 1}/${count} deposits\n`);
  }
  const v = summarize(visible);
  const a = summarize(accept);
  printTable(
    `deposit accepted → balance visible, ${count} sequential deposits (ms)`,
    ['measure', 'n', 'p50', 'p90', 'p99', 'max'],
    [
      ['POST deposit → 201', a.n, a.p50, a.p90, a.p99, a.max],
      ['201 → visible in query API', v.n, v.p50, v.p90, v.p99, v.max],
    ],
  );
  const file = writeResult('pipeline-latency', { deposits: count, pollMs: POLL_MS, acceptMs: a, visibleMs: v });
  console.log(`\nwrote ${file}`);
}

main().catch((err: unknown) => {
  console.error(`bench failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
