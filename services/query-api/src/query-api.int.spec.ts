import type { AddressInfo } from 'node:net';
import { loadConfig } from '@sluice/config';
import { uuidv7 } from '@sluice/core';
import { withTransaction } from '@sluice/db';
import { migrateVersionSchema, publishViews } from '@sluice/projection-kit';
import { createLogger, createMetricsRegistry, type Registry } from '@sluice/observability';
import { upsertWalletViews, walletProjection, type WalletView } from '@sluice/projection-wallet';
import { createTestDatabase, type TestDatabase } from '@sluice/testing';
import { buildQueryApi, type QueryApi } from './app';
import { queryApiConfig } from './config';

let db: TestDatabase;
let api: QueryApi;
let registry: Registry;
let baseUrl: string;

const wallet: WalletView = {
  walletId: uuidv7(),
  currency: 'EUR',
  balance: 1_250,
  held: 0,
  version: 2,
  openedAt: new Date('2025-06-01T10:00:00.000Z'),
  updatedAt: new Date('2025-06-01T10:00:02.500Z'),
  lastEventId: uuidv7(),
};

beforeAll(async () => {
  db = await createTestDatabase('query_api');
  registry = createMetricsRegistry('query-api-test', false);
  api = await buildQueryApi(
    loadConfig(queryApiConfig, { DATABASE_URL: db.url }),
    createLogger('query-api-test', 'silent'),
    registry,
  );
  await api.app.listen(0, '127.0.0.1');
  const { port } = api.app.getHttpServer().address() as AddressInfo;
  baseUrl = `http://127.0.0.1:${port}`;
});

afterAll(async () => {
  await api?.close();
  await db?.drop();
});

async function get(path: string): Promise<{ status: number; type: string; body: Record<string, unknown>; headers: Headers }> {
  const res = await fetch(`${baseUrl}${path}`);
  return {
    status: res.status,
    type: res.headers.get('content-type') ?? '',
    body: (await res.json()) as Record<string, unknown>,
    headers: res.headers,
  };
}

describe('query API over HTTP', () => {
  it('answers 503 problem+json with Retry-After while the read model does not exist yet', async () => {
    const res = await get(`/v1/wallets/${wallet.walletId}`);
    expect(res.status).toBe(503);
    expect(res.type).toMatch(/^application\/problem\+json/);
    expect(res.headers.get('retry-after')).toBe('1');
    expect(res.body).toMatchObject({ status: 503, code: 'service_unavailable' });
  });

  describe('with the wallet read model', () => {
    beforeAll(async () => {
      // As the projector leaves it: the version's tables in their schema, a view in public.
      await migrateVersionSchema(api.pool, walletProjection, 'proj_wallet_v1');
      await withTransaction(api.pool, (tx) => publishViews(tx, walletProjection, 'proj_wallet_v1'));
      await upsertWalletViews({ db: api.pool, schema: '"proj_wallet_v1"', mode: 'live' }, [wallet]);
    });

    it('GET /v1/wallets/{id} answers 200 with the wallet as JSON', async () => {
      const res = await get(`/v1/wallets/${wallet.walletId}`);
      expect(res.status).toBe(200);
      expect(res.type).toMatch(/^application\/json/);
      expect(res.body).toEqual({
        walletId: wallet.walletId,
        currency: 'EUR',
        balance: 1250,
        version: 2,
        updatedAt: '2025-06-01T10:00:02.500Z',
      });
    });

    it('accepts the id in upper case and answers with its canonical form', async () => {
      const res = await get(`/v1/wallets/${wallet.walletId.toUpperCase()}`);
      expect(res.status).toBe(200);
      expect(res.body.walletId).toBe(wallet.walletId);
    });

    it('answers 404 problem+json wallet_not_found for a wallet the read model does not hold', async () => {
      const unknown = uuidv7();
      const res = await get(`/v1/wallets/${unknown}`);
      expect(res.status).toBe(404);
      expect(res.type).toMatch(/^application\/problem\+json/);
      expect(res.body).toMatchObject({
        status: 404,
        code: 'wallet_not_found',
        type: 'https://sluice.dev/problems/wallet-not-found',
        instance: `/v1/wallets/${unknown}`,
      });
    });

    it('answers 400 problem+json for an id that is not a UUID, naming the bad path parameter', async () => {
      const res = await get('/v1/wallets/not-a-uuid');
      expect(res.status).toBe(400);
      expect(res.type).toMatch(/^application\/problem\+json/);
      expect(res.body).toMatchObject({ status: 400, code: 'validation_failed', errors: [{ path: 'path.walletId' }] });
    });

    it('serves readiness from PostgreSQL, liveness and RED metrics per route', async () => {
      expect((await get('/health/ready')).body).toEqual({ status: 'up', checks: { postgres: { status: 'up' } } });
      expect((await get('/health/live')).status).toBe(200);
      const metrics = await (await fetch(`${baseUrl}/metrics`)).text();
      expect(metrics).toMatch(
        /sluice_http_requests_total\{[^}]*route="\/v1\/wallets\/:walletId"[^}]*status_class="2xx"[^}]*\} [1-9]/,
      );
    });
  });
});
