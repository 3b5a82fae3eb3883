import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { Client } from 'pg';
import { createMetricsRegistry, type Registry } from '@sluice/observability';
import { createTestDatabase, type TestDatabase, testIssuer, uniqueName, waitFor } from '@sluice/testing';
import type { CommandApi } from './app';
import { startCommandApi, testCommandApiEnv } from './test-support/command-api-fixture';

/**
 * The backpressure stages against the real database: ingress token buckets,
 * admission control in front of the pool, deadlines carried into the
 * transaction, and lag-aware shedding read from the replication slot.
 */
let db: TestDatabase;
let api: CommandApi;
let http: FastifyInstance;
let registry: Registry;
let base: Record<string, string>;

/** A subject with every scope: the requests here are not about authorization. */
let AUTH: Record<string, string>;

beforeAll(async () => {
  AUTH = await testIssuer().bearer('test-user');
  db = await createTestDatabase('front_door');
  base = testCommandApiEnv(db, 'fd');
  registry = createMetricsRegistry('t', false);
  api = await build(
    {
      CLIENT_RATE_PER_SEC: '1',
      CLIENT_BURST: '20',
      DB_POOL_MAX: '2',
      DB_ADMISSION_MIN_LIMIT: '1',
      DB_ADMISSION_MAX_LIMIT: '2',
      DB_ADMISSION_QUEUE_DEPTH: '2',
      DB_ADMISSION_QUEUE_WAIT_MS: '100',
      REQUEST_BUDGET_MS: '300',
      SHED_RELAY_LAG_BYTES: '0',
      SHED_RETAINED_WAL_BYTES: '0',
    },
    registry,
  );
  http = api.app.getHttpAdapter().getInstance();
});

afterAll(async () => {
  await api?.close();
  await db?.drop();
});

async function build(env: Record<string, string>, reg: Registry): Promise<CommandApi> {
  return (await startCommandApi({ ...base, ...env }, 'front-door-test', reg)).api;
}

/** The Authorization header of `subject`: the principal its ingress bucket is counted against. */
const as = (subject: string) => testIssuer().bearer(subject);

async function post(target: FastifyInstance, url: string, body: unknown, client = 'tester'): Promise<LightMyRequestResponse> {
  return target.inject({
    method: 'POST',
    url,
    headers: { ...(await as(client)), 'content-type': 'application/json', 'idempotency-key': uniqueName('k') },
    payload: JSON.stringify(body),
  });
}

async function openWallet(client: string): Promise<string> {
  const res = await post(http, '/v1/wallets', { currency: 'EUR' }, client);
  expect(res.statusCode).toBe(201);
  return res.json<{ walletId: string }>().walletId;
}

describe('front door (real PostgreSQL)', () => {
  it('rate-limits per principal: 429 problem+json with Retry-After and RateLimit headers, while another client and health checks pass', async () => {
    // Requests that reached the token bucket carry its RateLimit headers; the event-loop guard
    // refuses before it (a busy machine can trip it) and takes no token.
    const admitted: number[] = [];
    const guarded: number[] = [];
    let limited: LightMyRequestResponse | undefined;
    for (let i = 0; i < 60 && !limited; i++) {
      const res = await http.inject({
        method: 'GET',
        url: `/v1/withdrawals/0190a000-0000-7000-8000-00000000000${i % 10}`,
        // A client-supplied X-Client-Id names nothing: the token's subject is the client.
        headers: { ...(await as('noisy')), 'x-client-id': uniqueName('spoof') },
      });
      if (res.statusCode === 429) limited = res;
      else if (res.headers['ratelimit-limit'] === undefined) guarded.push(res.statusCode);
      else admitted.push(res.statusCode);
    }
    expect(admitted).toEqual(Array.from({ length: 20 }, () => 404));
    expect(guarded.every((s) => s === 503)).toBe(true);
    expect(limited).toBeDefined();
    expect(limited!.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(limited!.json()).toMatchObject({ status: 429, code: 'rate_limited' });
    expect(Number(limited!.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(limited!.headers['ratelimit-limit']).toBe('20');
    expect(limited!.headers['ratelimit-remaining']).toBe('0');
    expect(limited!.headers['ratelimit-policy']).toBe('20;w=20');

    const quiet = await http.inject({
      method: 'GET',
      url: '/v1/withdrawals/0190a000-0000-7000-8000-000000000001',
      headers: await as('quiet'),
    });
    expect(quiet.statusCode).toBe(404);
    expect(quiet.headers['ratelimit-remaining']).toBe('19');
    const health = await http.inject({ method: 'GET', url: '/health/live', headers: await as('noisy') });
    expect(health.statusCode).toBe(200);
    expect(await registry.getSingleMetricAsString('sluice_rate_limited_total')).toMatch(/scope="client"[^}]*\} [1-9]/);
  });

  it("counts the budget from the edge proxy's X-Request-Start: a request queued past it gets 503 deadline_exceeded, one queued over 50 ms 503 overloaded, each with Retry-After, and neither writes", async () => {
    const walletId = await openWallet('stamped');
    const stampedAuth = await as('stamped');
    const send = (stamp: string) =>
      http.inject({
        method: 'POST',
        url: `/v1/wallets/${walletId}/deposits`,
        headers: {
          ...stampedAuth,
          'content-type': 'application/json',
          'idempotency-key': uniqueName('k'),
          'x-request-start': stamp,
        },
        payload: JSON.stringify({ amount: 10, currency: 'EUR' }),
      });
    // Stamped 2 s ago (nginx's $msec form: seconds with milliseconds) with a 300 ms budget: already spent.
    const late = await send(`t=${((Date.now() - 2_000) / 1000).toFixed(3)}`);
    expect(late.statusCode).toBe(503);
    expect(late.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(late.json()).toMatchObject({ code: 'deadline_exceeded' });
    expect(Number(late.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    // Stamped 200 ms ago: within its budget, but it queued longer than REQUEST_MAX_QUEUED_MS (50 ms).
    const behind = await send(`t=${Date.now() - 200}`);
    expect(behind.statusCode).toBe(503);
    expect(behind.json()).toMatchObject({ code: 'overloaded' });
    expect(behind.headers['retry-after']).toBe('1');
    // Stamped just now, or in the future (which counts as now): served.
    expect((await send(`t=${Date.now()}`)).statusCode).toBe(201);
    expect((await send(`t=${Date.now() + 60_000}`)).statusCode).toBe(201);
    const { rows } = await api.pool.query<{ balance: string }>('SELECT balance::text FROM wallets WHERE id = $1', [walletId]);
    expect(rows[0]!.balance).toBe('20');
    const drops = await registry.getSingleMetricAsString('sluice_backpressure_drops_total');
    expect(drops).toMatch(/reason="queued_past_deadline"[^}]*\} [1-9]/);
    expect(drops).toMatch(/reason="queued_too_long"[^}]*\} [1-9]/);
  });

  it('under a database that stalls: admits the pool limit, queues a bounded few, refuses the rest at once, and every refusal is a 503 with Retry-After', async () => {
    const wallets: string[] = [];
    for (let i = 0; i < 5; i++) wallets.push(await openWallet(`c${i}`));
    // Another session locks four wallet rows: deposits to them block in the database until their deadline.
    const locker = new Client({ connectionString: db.url });
    await locker.connect();
    await locker.query('BEGIN');
    await locker.query('SELECT id FROM wallets WHERE id = ANY($1::uuid[]) FOR UPDATE', [wallets.slice(0, 4)]);
    try {
      const started = Date.now();
      const blocked = wallets
        .slice(0, 4)
        .map((w, i) => post(http, `/v1/wallets/${w}/deposits`, { amount: 1, currency: 'EUR' }, `c${i}`));
      await new Promise((r) => setTimeout(r, 30));
      const overflow = await post(http, `/v1/wallets/${wallets[4]}/deposits`, { amount: 1, currency: 'EUR' }, 'c4');
      expect(overflow.statusCode).toBe(503);
      expect(overflow.json()).toMatchObject({ code: 'overloaded' });
      expect(Number(overflow.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      expect(Date.now() - started).toBeLessThan(250); // refused at once, not after waiting

      const results = await Promise.all(blocked);
      const codes = results.map((r) => `${r.statusCode} ${r.json<{ code: string }>().code}`).sort();
      // Two ran into their deadline in the database, two waited in the queue longer than it allows.
      expect(codes).toEqual(['503 deadline_exceeded', '503 deadline_exceeded', '503 overloaded', '503 overloaded']);
      expect(results.every((r) => Number(r.headers['retry-after']) >= 1)).toBe(true);
      expect(Date.now() - started).toBeLessThan(1_000);
    } finally {
      await locker.query('ROLLBACK');
      await locker.end();
    }
    // The timed-out clients were destroyed, not pooled: nothing of theirs is left in a transaction.
    const { rows } = await api.pool.query<{ n: string }>(
      `SELECT count(*)::text AS n FROM pg_stat_activity WHERE datname = current_database()
          AND application_name = 'sluice-command-api' AND state LIKE 'idle in transaction%'`,
    );
    expect(rows[0]!.n).toBe('0');
    const metrics = await registry.metrics();
    expect(metrics).toMatch(/sluice_admission_rejects_total\{dependency="postgres",reason="queue_full"[^}]*\} [1-9]/);
    expect(metrics).toMatch(/sluice_admission_rejects_total\{dependency="postgres",reason="queue_timeout"[^}]*\} [1-9]/);
    expect(metrics).toMatch(/sluice_admission_congestion_total\{dependency="postgres"[^}]*\} [1-9]/);
    expect(api.admission.limit).toBe(1); // two timeouts shrank it from the pool size

    // Nothing was half-written, and the service recovers at once.
    const after = await post(http, `/v1/wallets/${wallets[0]}/deposits`, { amount: 5, currency: 'EUR' }, 'c0');
    expect(after.statusCode).toBe(201);
    expect(after.json()).toMatchObject({ balance: 5, version: 2 });
  });

  it("admits status reads apart from commands: with the commands' admission full, a deposit is refused at once and a withdrawal poll still answered", async () => {
    const separateRegistry = createMetricsRegistry('t4', false);
    const separate = await build(
      {
        DB_POOL_MAX: '3',
        COMMAND_GROUP_TRANSACTIONS: '1',
        DB_ADMISSION_MIN_LIMIT: '1',
        DB_ADMISSION_MAX_LIMIT: '2',
        DB_ADMISSION_QUEUE_DEPTH: '1',
        DB_ADMISSION_QUEUE_WAIT_MS: '5000',
        REQUEST_BUDGET_MS: '10000',
      },
      separateRegistry,
    );
    const target = separate.app.getHttpAdapter().getInstance();
    const walletId = await openWallet('poller');
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    // Calls that hold every command slot and the one queue place, as a burst of slow commands would.
    const holders = Array.from({ length: 3 }, () => separate.admission.run(() => held));
    try {
      await waitFor(
        'the commands admission to fill',
        () => separate.admission.inFlight === 2 && separate.admission.queueDepth === 1,
      );
      const deposit = await post(target, `/v1/wallets/${walletId}/deposits`, { amount: 1, currency: 'EUR' }, 'poller');
      expect(deposit.statusCode).toBe(503);
      expect(deposit.json()).toMatchObject({ code: 'overloaded' });
      const poll = await target.inject({
        method: 'GET',
        url: '/v1/withdrawals/0190a000-0000-7000-8000-000000000002',
        headers: AUTH,
      });
      expect(poll.statusCode).toBe(404);
      expect(separate.readAdmission.limit).toBe(2); // the pool's three connections less the command transaction
      const metrics = await separateRegistry.metrics();
      expect(metrics).toMatch(/sluice_admission_queue_depth\{dependency="postgres"[^}]*\} 1/);
      expect(metrics).toMatch(/sluice_admission_limit\{dependency="postgres_reads"[^}]*\} 2/);
    } finally {
      release();
      await Promise.all(holders);
      await separate.close();
    }
  });

  it('sheds writes (not reads) with 503 load_shed while the relay lags behind the WAL, read from the replication slot', async () => {
    const shedding = await build(
      { SHED_RELAY_LAG_BYTES: '4096', SHED_PROBE_INTERVAL_MS: '50' },
      createMetricsRegistry('t3', false),
    );
    try {
      const target = shedding.app.getHttpAdapter().getInstance();
      // No relay consumes this test's slot, so every write adds to its lag.
      const walletId = await openWallet('writer');
      for (let i = 0; i < 40; i++) await post(http, `/v1/wallets/${walletId}/deposits`, { amount: 1, currency: 'EUR' }, 'writer');
      await waitFor('the shedder to read the lag', () => (shedding.shedder.current?.relayLagBytes ?? 0) > 8192);
      const res = await post(target, `/v1/wallets/${walletId}/deposits`, { amount: 1, currency: 'EUR' }, 'writer');
      expect(res.statusCode).toBe(503);
      expect(res.json()).toMatchObject({ status: 503, code: 'load_shed' });
      expect(res.headers['retry-after']).toBe('2');
      const read = await target.inject({
        method: 'GET',
        url: '/v1/withdrawals/0190a000-0000-7000-8000-000000000001',
        headers: AUTH,
      });
      expect(read.statusCode).toBe(404);
    } finally {
      await shedding.close();
    }
  });
});
