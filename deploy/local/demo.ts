import { randomUUID } from 'node:crypto';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { devIssuer } from '@sluice/platform';
import { localServices } from './services';

/**
 * Shows events travelling through the running platform: open a wallet,
 * deposit into it, read the balance back from the query side, then withdraw
 * and watch the payout saga's states arrive over server-sent events, all
 * through the edge proxy.
 *   node dist/deploy/local/demo.js
 */
// As a client would: through the edge proxy, which sends the POSTs to the command API and the reads to the query API.
const EDGE = 'http://127.0.0.1:8080';
const COMMAND = EDGE;
const QUERY = EDGE;

/** Tokens of the local dev issuer (what `make token` prints): a customer, and the funding service that deposits. */
const issuer = devIssuer(process.env.SLUICE_RUN_DIR ?? join(resolve(__dirname, '../../..'), '.run'));
const CUSTOMER = issuer.token({ subject: 'demo-customer', scope: 'wallets:open wallets:read withdrawals:request' });
const FUNDING = issuer.token({ subject: 'demo-funding', scope: 'funds:deposit' });
const as = async (token: Promise<string>) => ({ authorization: `Bearer ${await token}` });

/** How long a refused POST keeps being retried: long enough for a relay catching up after a long stop. */
const RETRY_BUDGET_MS = 120_000;

async function post(url: string, body: unknown, headers: Record<string, string> = {}): Promise<Record<string, unknown>> {
  // A well-behaved client: a 429 or 503 says when to come back; the Idempotency-Key makes the retry safe.
  const giveUpAt = Date.now() + RETRY_BUDGET_MS;
  for (;;) {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify(body),
    });
    const json = (await res.json()) as Record<string, unknown>;
    const retryAfter = Number(res.headers.get('retry-after'));
    if ((res.status === 429 || res.status === 503) && retryAfter > 0 && Date.now() + retryAfter * 1000 < giveUpAt) {
      console.log(`  ${res.status} ${String(json.code)}: ${String(json.detail)}; again in ${retryAfter} s (Retry-After)`);
      await sleep(retryAfter * 1000);
      continue;
    }
    if (!res.ok) throw new Error(`POST ${url} → ${res.status} ${JSON.stringify(json)}`);
    return json;
  }
}

async function main(): Promise<void> {
  const wallet = await post(
    `${COMMAND}/v1/wallets`,
    { currency: 'EUR' },
    { ...(await as(CUSTOMER)), 'idempotency-key': randomUUID() },
  );
  console.log(`POST /v1/wallets {"currency":"EUR"}                       → 201 ${JSON.stringify(wallet)}`);
  const walletId = String(wallet.walletId);
  const depositedAt = Date.now();
  const deposit = await post(
    `${COMMAND}/v1/wallets/${walletId}/deposits`,
    { amount: 1250, currency: 'EUR' },
    { ...(await as(FUNDING)), 'idempotency-key': randomUUID() },
  );
  console.log(`POST /v1/wallets/{id}/deposits {"amount":1250,...}        → 201 ${JSON.stringify(deposit)}`);
  const deadline = Date.now() + 15_000;
  for (;;) {
    const res = await fetch(`${QUERY}/v1/wallets/${walletId}`, { headers: await as(CUSTOMER) });
    if (res.ok) {
      const view = (await res.json()) as Record<string, unknown>;
      // >=: the bonus service's welcome bonus may land in between.
      if (Number(view.version) >= Number(deposit.version)) {
        console.log(`GET  /v1/wallets/{id} (query API)                         → 200 ${JSON.stringify(view)}`);
        console.log(`the deposit reached the read model ${Date.now() - depositedAt} ms after it was accepted`);
        break;
      }
    }
    if (Date.now() > deadline) throw new Error('the deposit did not reach the query API within 15 s; see .run/logs/');
    await sleep(20);
  }
  await withdrawal(walletId);
  console.log('\nSluice is running:');
  console.log(`  edge (nginx)      ${EDGE}  (POST → command-api, GET/SSE/WebSocket → query-api; /edge/health, /edge/status)`);
  for (const s of localServices()) console.log(`  ${s.name.padEnd(17)} http://127.0.0.1:${s.port}  (/health/ready, /metrics)`);
  console.log('  kafka         127.0.0.1:9092 (SASL_SSL; settings per principal in .run/credentials/kafka-<principal>.env)');
  console.log('  registry      http://127.0.0.1:8085/apis/ccompat/v7 (basic auth; users and client URLs in .run/registry/auth/)');
  console.log('  prometheus    http://127.0.0.1:9090 (every service scraped, the alert rules of deploy/prometheus loaded)');
  console.log(
    "  zipkin        http://127.0.0.1:9411/zipkin/ (every span; a response's x-trace-id finds its trace, docs/tracing.md)",
  );
  console.log('tokens: make token SUB=<subject> SCOPE="wallets:open wallets:read withdrawals:request"');
  console.log('logs: .run/logs/    stop: make down');
}

/** A withdrawal: 202 at once, then its states pushed over server-sent events until it is paid out. */
async function withdrawal(walletId: string): Promise<void> {
  const requestedAt = Date.now();
  const accepted = await post(
    `${COMMAND}/v1/wallets/${walletId}/withdrawals`,
    { amount: 500, currency: 'EUR' },
    { ...(await as(CUSTOMER)), 'idempotency-key': randomUUID() },
  );
  console.log(`POST /v1/wallets/{id}/withdrawals {"amount":500,...}      → 202 ${JSON.stringify(accepted)}`);
  const res = await fetch(`${QUERY}/v1/withdrawals/${String(accepted.withdrawalId)}/events`, {
    headers: await as(CUSTOMER),
    signal: AbortSignal.timeout(30_000),
  });
  if (!res.ok || !res.body) throw new Error(`GET /v1/withdrawals/{id}/events → ${res.status}`);
  const decoder = new TextDecoder();
  let buffer = '';
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    buffer += decoder.decode(chunk, { stream: true });
    for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
      const event = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const data = /^data: (.*)$/m.exec(event)?.[1];
      if (!data) continue;
      const w = JSON.parse(data) as { state?: string; code?: string };
      if (w.code) throw new Error(`the withdrawal stream said ${w.code}`);
      console.log(
        `SSE  /v1/withdrawals/{id}/events  (${String(Date.now() - requestedAt).padStart(5)} ms)      → ${w.state} ${data}`,
      );
    }
  }
}

main().catch((err: unknown) => {
  console.error(`demo failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
