import { setTimeout as sleep } from 'node:timers/promises';
import type { AddressInfo } from 'node:net';
import { loadConfig } from '@sluice/config';
import { uuidv7 } from '@sluice/core';
import { partitionForKey, routeTopic } from '@sluice/messaging';
import { createLogger, createMetricsRegistry, type Registry } from '@sluice/observability';
import { insertTransactions, type TransactionItem } from '@sluice/projection-transactions';
import { upsertWalletViews, walletProjection, type WalletView } from '@sluice/projection-wallet';
import type { WithdrawalView } from '@sluice/projection-withdrawals';
import { createTestDatabase, testIssuer, uniqueName, waitFor, type TestDatabase } from '@sluice/testing';
import { buildQueryApi, type QueryApi } from './app';
import { queryApiConfig } from './config';
import { PARTITIONS, ReadModelFixture, withdrawalView } from './test-support/read-model-fixture';
import { WithdrawalReader } from './withdrawals/withdrawal-reader';

let db: TestDatabase;
let api: QueryApi;
let registry: Registry;
let baseUrl: string;
let fixture: ReadModelFixture;

const T = (s: number) => new Date(Date.parse('2025-06-01T10:00:00.000Z') + s * 1_000);
const wallet = (over: Partial<WalletView> = {}): WalletView => ({
  walletId: WALLET,
  currency: 'EUR',
  owner: 'owner-1',
  balance: 1_250,
  held: 250,
  version: 2,
  openedAt: T(0),
  updatedAt: T(2.5),
  lastEventId: uuidv7(),
  ...over,
});
const WALLET = uuidv7();

/** Support's token (wallets:read:any): the reads here are not about who may read; auth.int.spec is. */
let AUTH: Record<string, string>;

beforeAll(async () => {
  AUTH = await testIssuer().bearer('support', 'wallets:read:any');
  db = await createTestDatabase('query_api');
  registry = createMetricsRegistry('query-api-test', false);
  const pattern = `${uniqueName('qa')}.\${routedByValue}`;
  api = await buildQueryApi(
    loadConfig(queryApiConfig, {
      SLUICE_ENV: 'development',
      ...testIssuer().env(),
      DATABASE_URL: db.url,
      OUTBOX_TOPIC_PATTERN: pattern,
      QUERY_FRESHNESS_REFRESH_MS: '50',
      QUERY_CACHE_TTL_MS: '60000',
    }),
    createLogger('query-api-test', 'silent'),
    registry,
  );
  await api.app.listen(0, '127.0.0.1');
  const { port } = api.app.getHttpServer().address() as AddressInfo;
  baseUrl = `http://127.0.0.1:${port}`;
  fixture = new ReadModelFixture(api.pool, routeTopic(pattern, 'wallet'));
});

afterAll(async () => {
  await api?.close();
  await db?.drop();
});

interface Res {
  status: number;
  type: string;
  body: Record<string, unknown>;
  headers: Headers;
  ms: number;
}

async function get(path: string, headers: Record<string, string> = {}): Promise<Res> {
  const started = performance.now();
  const res = await fetch(`${baseUrl}${path}`, { headers: { ...AUTH, ...headers } });
  const text = await res.text();
  return {
    status: res.status,
    type: res.headers.get('content-type') ?? '',
    body: text ? (JSON.parse(text) as Record<string, unknown>) : {},
    headers: res.headers,
    ms: performance.now() - started,
  };
}

async function putWallet(view: WalletView, notify = true): Promise<void> {
  await fixture.write('wallet', (ctx) => upsertWalletViews(ctx, [view]), [{ key: view.walletId, version: view.version }], {
    notify,
  });
}

async function metric(name: string, labels: Record<string, string> = {}): Promise<number> {
  const { values } = await registry.getSingleMetric(name)!.get();
  return values
    .filter((v) => Object.entries(labels).every(([k, w]) => String(v.labels[k]) === w))
    .reduce((n, v) => n + v.value, 0);
}

describe('query API over HTTP', () => {
  it('answers 503 problem+json with Retry-After while the read model does not exist yet', async () => {
    const res = await get(`/v1/wallets/${WALLET}`);
    expect(res.status).toBe(503);
    expect(res.type).toMatch(/^application\/problem\+json/);
    expect(res.headers.get('retry-after')).toBe('1');
    expect(res.body).toMatchObject({ status: 503, code: 'service_unavailable' });
  });

  describe('with the read models', () => {
    beforeAll(async () => {
      await fixture.install();
      await putWallet(wallet());
    });

    it('GET /v1/wallets/{id} answers 200 with balance, held, available and version, an ETag and the lag of its partition', async () => {
      const res = await get(`/v1/wallets/${WALLET}`);
      expect(res.status).toBe(200);
      expect(res.type).toMatch(/^application\/json/);
      expect(res.body).toEqual({
        walletId: WALLET,
        currency: 'EUR',
        balance: 1250,
        held: 250,
        available: 1000,
        version: 2,
        updatedAt: '2025-06-01T10:00:02.500Z',
      });
      expect(res.headers.get('etag')).toMatch(/^"[\w-]+"$/);
      expect(res.headers.get('sluice-lag-records')).toBe('0');
      expect(res.headers.get('sluice-lag-ms')).toBe('0');
      expect(res.headers.get('sluice-stale')).toBeNull();
    });

    it('answers 304 without a body to If-None-Match with the current ETag', async () => {
      const first = await get(`/v1/wallets/${WALLET}`);
      const again = await fetch(`${baseUrl}/v1/wallets/${WALLET}`, {
        headers: { ...AUTH, 'if-none-match': first.headers.get('etag')! },
      });
      expect(again.status).toBe(304);
      expect(await again.text()).toBe('');
      expect(again.headers.get('etag')).toBe(first.headers.get('etag'));
      expect(await metric('sluice_query_not_modified_total', { resource: 'wallet' })).toBeGreaterThanOrEqual(1);
    });

    it('serves from the cache until the projector says the wallet changed, then at once the new version', async () => {
      await get(`/v1/wallets/${WALLET}`);
      // Changed behind the projector's back (no notification): the cache keeps answering.
      await putWallet(wallet({ version: 3, balance: 1_300 }), false);
      expect((await get(`/v1/wallets/${WALLET}`)).body.version).toBe(2);
      expect(await metric('sluice_query_cache_requests_total', { resource: 'wallet', result: 'hit' })).toBeGreaterThanOrEqual(1);
      // The projector's transaction notifies on commit: the next read sees it.
      await putWallet(wallet({ version: 4, balance: 1_400 }));
      await waitFor(
        'the notification to drop the cached wallet',
        async () => (await get(`/v1/wallets/${WALLET}`)).body.version === 4,
        {
          timeoutMs: 2_000,
          intervalMs: 5,
        },
      );
    });

    it('with ?minVersion waits until the read model has that version (read-your-writes)', async () => {
      setTimeout(() => void putWallet(wallet({ version: 5, balance: 1_500 })), 300);
      const res = await get(`/v1/wallets/${WALLET}?minVersion=5`);
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ version: 5, balance: 1_500 });
      expect(res.headers.get('sluice-stale')).toBeNull();
      expect(res.ms).toBeGreaterThanOrEqual(250);
      expect(res.ms).toBeLessThan(1_500);
      expect(await metric('sluice_query_min_version_requests_total', { resource: 'wallet', outcome: 'waited' })).toBe(1);
    });

    it('with ?minVersion already reached, answers at once', async () => {
      const res = await get(`/v1/wallets/${WALLET}?minVersion=3`);
      expect(res.body).toMatchObject({ version: 5 });
      expect(res.ms).toBeLessThan(200);
    });

    it('when the version does not arrive within the wait, answers what it has, marked stale', async () => {
      const res = await get(`/v1/wallets/${WALLET}?minVersion=9`, { prefer: 'wait=1' });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ version: 5 });
      expect(res.headers.get('sluice-stale')).toBe('true');
      expect(res.ms).toBeGreaterThanOrEqual(950);
      expect(res.ms).toBeLessThan(1_800);
    });

    it('refuses a minVersion that is not a positive integer', async () => {
      const res = await get(`/v1/wallets/${WALLET}?minVersion=zero`);
      expect(res.status).toBe(400);
      expect(res.body).toMatchObject({ code: 'validation_failed', errors: [{ path: 'query.minVersion' }] });
    });

    it('answers 404 wallet_not_found for a wallet the read model does not hold, marked stale after a wait', async () => {
      const unknown = uuidv7();
      const res = await get(`/v1/wallets/${unknown}`);
      expect(res.status).toBe(404);
      expect(res.body).toMatchObject({ code: 'wallet_not_found', instance: `/v1/wallets/${unknown}` });
      const waited = await get(`/v1/wallets/${unknown}?minVersion=1`, { prefer: 'wait=0' });
      expect(waited.status).toBe(404);
      expect(waited.headers.get('sluice-stale')).toBe('true');
    });

    it('answers 400 problem+json for an id that is not a UUID, naming the bad path parameter', async () => {
      const res = await get('/v1/wallets/not-a-uuid');
      expect(res.status).toBe(400);
      expect(res.body).toMatchObject({ status: 400, code: 'validation_failed', errors: [{ path: 'path.walletId' }] });
    });

    it('reports the lag of the wallet’s partition in headers and the worst one in a metric', async () => {
      const partition = partitionForKey(WALLET, PARTITIONS);
      await fixture.setLag('wallet', partition, 7, new Date(Date.now() - 3_000));
      await sleep(100);
      const res = await get(`/v1/wallets/${WALLET}`);
      expect(res.headers.get('sluice-lag-records')).toBe('7');
      expect(Number(res.headers.get('sluice-lag-ms'))).toBeGreaterThanOrEqual(3_000);
      expect(await metric('sluice_query_read_model_lag_seconds', { projection: 'wallet' })).toBeGreaterThanOrEqual(3);
      expect(await metric('sluice_query_read_model_lag_records', { projection: 'wallet' })).toBe(7);
      await fixture.setLag('wallet', partition, 0, new Date());
    });

    it('after a switch of the live version, answers from the new version at once', async () => {
      await fixture.installVersion(walletProjection, 2);
      await fixture.write('wallet', (ctx) => upsertWalletViews(ctx, [wallet({ version: 5, balance: 9_999 })]), [], {
        version: 2,
        notify: false,
      });
      expect((await get(`/v1/wallets/${WALLET}`)).body.balance).toBe(1_500);
      await fixture.switchTo(walletProjection, 2);
      await waitFor('the switch to reach the cache', async () => (await get(`/v1/wallets/${WALLET}`)).body.balance === 9_999, {
        timeoutMs: 2_000,
        intervalMs: 5,
      });
    });
  });

  describe('transaction history', () => {
    const W = uuidv7();
    const item = (
      version: number,
      amount: number,
      balance: number,
      type: TransactionItem['type'] = 'deposit',
    ): TransactionItem => ({
      walletId: W,
      version,
      type,
      amount,
      currency: 'EUR',
      balance,
      reference: uuidv7(),
      eventId: uuidv7(),
      occurredAt: T(version),
    });

    beforeAll(async () => {
      await fixture.write(
        'wallet',
        (ctx) => upsertWalletViews(ctx, [wallet({ walletId: W, version: 6, balance: 400, held: 0 })]),
        [],
        {
          version: 2,
        },
      );
      const items = [item(2, 100, 100), item(3, 500, 600), item(4, 200, 600, 'withdrawal_hold'), item(5, 200, 400, 'withdrawal')];
      await fixture.write('transactions', (ctx) => insertTransactions(ctx, items), [{ key: W, version: 6 }]);
    });

    it('pages newest first with a cursor until nextCursor is null, each item with its type', async () => {
      const first = await get(`/v1/wallets/${W}/transactions?limit=3`);
      expect(first.status).toBe(200);
      const items = first.body.items as Record<string, unknown>[];
      expect(items.map((i) => [i.version, i.type, i.amount, i.balance])).toEqual([
        [5, 'withdrawal', 200, 400],
        [4, 'withdrawal_hold', 200, 600],
        [3, 'deposit', 500, 600],
      ]);
      expect(items[0]).toHaveProperty('withdrawalId');
      expect(items[2]).toHaveProperty('depositId');
      expect(typeof first.body.nextCursor).toBe('string');

      const second = await get(`/v1/wallets/${W}/transactions?limit=3&cursor=${String(first.body.nextCursor)}`);
      expect((second.body.items as Record<string, unknown>[]).map((i) => i.version)).toEqual([2]);
      expect(second.body.nextCursor).toBeNull();
      expect(second.headers.get('etag')).toBeTruthy();
    });

    it('defaults to 20 items, refuses a limit over 100, a foreign cursor, and an unknown wallet', async () => {
      expect(((await get(`/v1/wallets/${W}/transactions`)).body.items as unknown[]).length).toBe(4);
      expect((await get(`/v1/wallets/${W}/transactions?limit=101`)).body).toMatchObject({ code: 'validation_failed' });
      const foreign = Buffer.from(JSON.stringify({ w: WALLET, v: 3 })).toString('base64url');
      expect((await get(`/v1/wallets/${W}/transactions?cursor=${foreign}`)).body).toMatchObject({
        status: 400,
        code: 'invalid_cursor',
      });
      expect((await get(`/v1/wallets/${uuidv7()}/transactions`)).status).toBe(404);
    });

    it('with ?minVersion waits until the history has folded that version of the wallet', async () => {
      setTimeout(
        () => void fixture.write('transactions', (ctx) => insertTransactions(ctx, [item(7, 50, 450)]), [{ key: W, version: 7 }]),
        200,
      );
      const res = await get(`/v1/wallets/${W}/transactions?minVersion=7&limit=1`);
      expect((res.body.items as Record<string, unknown>[])[0]).toMatchObject({ version: 7, amount: 50 });
      expect(res.headers.get('sluice-stale')).toBeNull();
    });
  });

  describe('withdrawal status', () => {
    const id = uuidv7();
    const view = (over: Partial<WithdrawalView> = {}): WithdrawalView =>
      withdrawalView({ withdrawalId: id, walletId: WALLET, requestedAt: T(3), lastEventId: uuidv7() }, over);
    const put = (v: WithdrawalView) => fixture.putWithdrawal(v);

    it('answers processing with Retry-After, then the final state without it', async () => {
      await put(view());
      const processing = await get(`/v1/withdrawals/${id}`);
      expect(processing.status).toBe(200);
      expect(processing.body).toMatchObject({
        withdrawalId: id,
        walletId: WALLET,
        amount: 300,
        state: 'processing',
        failure: null,
      });
      expect(processing.headers.get('retry-after')).toBe('1');

      await put(view({ state: 'failed', version: 4, failureReason: 'provider_declined', failureDetail: 'no' }));
      const failed = await get(`/v1/withdrawals/${id}?minVersion=4`);
      expect(failed.body).toMatchObject({ state: 'failed', failure: { reason: 'provider_declined', detail: 'no' }, version: 4 });
      expect(failed.headers.get('retry-after')).toBeNull();
    });

    it('answers 404 withdrawal_not_found for one it does not know', async () => {
      expect((await get(`/v1/withdrawals/${uuidv7()}`)).body).toMatchObject({ status: 404, code: 'withdrawal_not_found' });
    });

    it('streams a withdrawal’s states as the projector changes them (what a status push sends)', async () => {
      const other = uuidv7();
      await put(view({ withdrawalId: other }));
      const abort = new AbortController();
      const states: string[] = [];
      const watching = (async () => {
        for await (const w of new WithdrawalReader(api.readModel).watch(other, abort.signal)) {
          states.push(w.state);
        }
      })();
      await waitFor('the first state', () => states.length === 1);
      await put(view({ withdrawalId: other, state: 'failed', version: 4, failureReason: 'x', failureDetail: 'y' }));
      await waitFor('the failure', () => states.length === 2);
      await put(view({ withdrawalId: other, state: 'compensated', version: 5, failureReason: 'x', failureDetail: 'y' }));
      await watching;
      expect(states).toEqual(['processing', 'failed', 'compensated']);
    });
  });

  it('serves readiness from PostgreSQL, liveness and RED metrics per route', async () => {
    expect((await get('/health/ready')).body).toEqual({ status: 'up', checks: { postgres: { status: 'up' } } });
    expect((await get('/health/live')).status).toBe(200);
    const metrics = await (await fetch(`${baseUrl}/metrics`)).text();
    expect(metrics).toMatch(
      /sluice_http_requests_total\{[^}]*route="\/v1\/wallets\/:walletId"[^}]*status_class="2xx"[^}]*\} [1-9]/,
    );
    expect(metrics).toMatch(/sluice_query_change_feed_connected 1/);
  });
});
