import { setTimeout as sleep } from 'node:timers/promises';
import { createPool, type Pool } from '@sluice/db';
import {
  createTestDatabase,
  freePort,
  type ServiceProcess,
  startService,
  type TestDatabase,
  testEnv,
  testIssuer,
  uniqueName,
} from '@sluice/testing';

/**
 * Two command-API processes on one database, as `--replicas 2` runs them: each has its own pool,
 * batching lanes and admission, and only PostgreSQL stands between them and an overdraft.
 */
let db: TestDatabase;
let pool: Pool;
const replicas: ServiceProcess[] = [];

/** A subject with every scope: the requests here are not about authorization. */
let AUTH: Record<string, string>;

beforeAll(async () => {
  AUTH = await testIssuer().bearer('test-user');
  db = await createTestDatabase('replicas');
  const env = {
    ...testIssuer().env(),
    DATABASE_URL: db.url,
    ...testEnv.kafkaEnv,
    SCHEMA_REGISTRY_URL: testEnv.registryUrl,
    OUTBOX_TOPIC_PATTERN: `${uniqueName('replicas')}.\${routedByValue}`,
    OUTBOX_SLOT_NAME: uniqueName('slot').toLowerCase(),
    OUTBOX_PUBLICATION_NAME: uniqueName('pub').toLowerCase(),
    WALLET_COMMANDS_TOPIC: uniqueName('replicas_wallet_commands'),
    WALLET_COMMANDS_DLQ_TOPIC: uniqueName('replicas_wallet_commands_dlq'),
    WALLET_COMMANDS_GROUP_ID: uniqueName('replicas_command_api'),
    LOG_LEVEL: 'warn',
    // Every request must reach the database: the refusals under test are the wallet's, not the process's.
    EVENT_LOOP_MAX_DELAY_MS: '0',
  };
  // The first migrates and creates the slot; the second finds them.
  replicas.push(startService('command-api', env, await freePort()));
  await replicas[0]!.waitReady();
  replicas.push(startService('command-api', env, await freePort()));
  await replicas[1]!.waitReady();
  pool = createPool({ url: db.url, applicationName: 'replicas-test', max: 2 });
});

afterAll(async () => {
  await Promise.all(replicas.map((r) => r.kill('SIGTERM')));
  await pool?.end();
  await db?.drop();
});

/** A client that sends a 409, 429 or 503 again after Retry-After with the same Idempotency-Key, as the API asks. */
async function send(url: string, body: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const key = uniqueName('k');
  for (let attempt = 1; ; attempt++) {
    const res = await fetch(url, {
      method: 'POST',
      headers: { ...AUTH, 'content-type': 'application/json', 'idempotency-key': key },
      body: JSON.stringify(body),
    });
    const json = (await res.json()) as Record<string, unknown>;
    if (![409, 429, 503].includes(res.status) || attempt >= 30) return { status: res.status, body: json };
    const retryAfterSec = Number(res.headers.get('retry-after') ?? '0');
    await sleep(Math.min(retryAfterSec * 1000, 500) + Math.random() * 50);
  }
}

describe('two command-API processes on one hot wallet', () => {
  it('never overdraw: of 100 withdrawals of 50 against 1,000, sent to both at once, exactly 20 are accepted', async () => {
    const opened = await send(`${replicas[0]!.url}/v1/wallets`, { currency: 'EUR' });
    expect(opened.status).toBe(201);
    const walletId = String(opened.body.walletId);
    expect((await send(`${replicas[1]!.url}/v1/wallets/${walletId}/deposits`, { amount: 1_000, currency: 'EUR' })).status).toBe(
      201,
    );

    const results = await Promise.all(
      Array.from({ length: 100 }, (_, i) =>
        send(`${replicas[i % 2]!.url}/v1/wallets/${walletId}/withdrawals`, { amount: 50, currency: 'EUR' }),
      ),
    );
    const statuses = new Map<number, number>();
    for (const r of results) statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
    expect(Object.fromEntries(statuses)).toEqual({ 202: 20, 422: 80 });
    expect(results.filter((r) => r.status === 422).every((r) => r.body.code === 'insufficient_funds')).toBe(true);

    const { rows } = await pool.query<{ balance: string; held: string }>('SELECT balance, held FROM wallets WHERE id = $1', [
      walletId,
    ]);
    expect(rows[0]).toEqual({ balance: '1000', held: '1000' });
    const { rows: held } = await pool.query<{ n: number; total: string }>(
      'SELECT count(*)::int AS n, sum(amount)::text AS total FROM withdrawals WHERE wallet_id = $1',
      [walletId],
    );
    expect(held[0]).toEqual({ n: 20, total: '1000' });
  });
});
