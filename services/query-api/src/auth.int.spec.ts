import type { AddressInfo } from 'node:net';
import WebSocket from 'ws';
import { DevIssuer } from '@sluice/auth';
import { loadConfig } from '@sluice/config';
import { uuidv7 } from '@sluice/core';
import { routeTopic } from '@sluice/messaging';
import { createLogger, createMetricsRegistry, type Registry } from '@sluice/observability';
import { insertTransactions } from '@sluice/projection-transactions';
import { upsertWalletViews, type WalletView } from '@sluice/projection-wallet';
import { createTestDatabase, testIssuer, uniqueName, type TestDatabase } from '@sluice/testing';
import { buildQueryApi, type QueryApi } from './app';
import { queryApiConfig } from './config';
import { ReadModelFixture, withdrawalView } from './test-support/read-model-fixture';

/**
 * Who may read what through the query API, streams included, against the
 * real database with tokens of the test issuer verified as in production.
 */
let db: TestDatabase;
let api: QueryApi;
let registry: Registry;
let baseUrl: string;
let fixture: ReadModelFixture;
const issuer = testIssuer();
const ALLOWED_ORIGIN = 'https://app.sluice.test';
const T = (s: number) => new Date(Date.parse('2026-12-01T10:00:00.000Z') + s * 1_000);

const WALLET_A = uuidv7();
const WALLET_B = uuidv7();
const WITHDRAWAL_B = uuidv7();

const wallet = (walletId: string, owner: string): WalletView => ({
  walletId,
  currency: 'EUR',
  owner,
  balance: 500,
  held: 100,
  version: 3,
  openedAt: T(0),
  updatedAt: T(3),
  lastEventId: uuidv7(),
});

beforeAll(async () => {
  db = await createTestDatabase('query_auth');
  registry = createMetricsRegistry('query-auth-test', false);
  const pattern = `${uniqueName('qauth')}.\${routedByValue}`;
  api = await buildQueryApi(
    loadConfig(queryApiConfig, {
      SLUICE_ENV: 'development',
      ...issuer.env(),
      DATABASE_URL: db.url,
      OUTBOX_TOPIC_PATTERN: pattern,
      AUTH_ALLOWED_ORIGINS: ALLOWED_ORIGIN,
      QUERY_STREAM_NOT_FOUND_MS: '300',
      QUERY_STREAM_MAX_CONNECTIONS_PER_PRINCIPAL: '2',
    }),
    createLogger('query-auth-test', 'silent'),
    registry,
  );
  await api.app.listen(0, '127.0.0.1');
  baseUrl = `http://127.0.0.1:${(api.app.getHttpServer().address() as AddressInfo).port}`;
  fixture = new ReadModelFixture(api.pool, routeTopic(pattern, 'wallet'));
  await fixture.install();
  await fixture.write('wallet', (ctx) => upsertWalletViews(ctx, [wallet(WALLET_A, 'alice'), wallet(WALLET_B, 'bob')]), []);
  await fixture.write(
    'transactions',
    (ctx) =>
      insertTransactions(ctx, [
        {
          walletId: WALLET_B,
          version: 2,
          type: 'deposit',
          amount: 500,
          currency: 'EUR',
          balance: 500,
          reference: uuidv7(),
          eventId: uuidv7(),
          occurredAt: T(2),
        },
      ]),
    [{ key: WALLET_B, version: 2 }],
  );
  await fixture.putWithdrawal(
    withdrawalView({ withdrawalId: WITHDRAWAL_B, walletId: WALLET_B, requestedAt: T(3), lastEventId: uuidv7() }),
  );
});

afterAll(async () => {
  await api?.close();
  await db?.drop();
});

const CUSTOMER = 'wallets:open wallets:read withdrawals:request';
const bearer = async (subject: string, scope = CUSTOMER) => (await issuer.bearer(subject, scope)).authorization;

async function get(path: string, authorization?: string, headers: Record<string, string> = {}) {
  const res = await fetch(`${baseUrl}${path}`, {
    headers: { ...(authorization && { authorization }), ...headers },
    signal: AbortSignal.timeout(10_000),
  });
  const type = res.headers.get('content-type') ?? '';
  const isStream = type.startsWith('text/event-stream');
  const text = isStream ? '' : await res.text();
  if (isStream) await res.body?.cancel();
  const body = text && /json/.test(type) ? (JSON.parse(text) as Record<string, unknown>) : {};
  return { status: res.status, headers: res.headers, text, body };
}

/** Opens a WebSocket and resolves once it opened, or with the HTTP status the upgrade was refused with. */
function connect(options: WebSocket.ClientOptions, protocols?: string[]): Promise<{ ws?: WebSocket; status?: number }> {
  return new Promise((resolve) => {
    const ws = new WebSocket(`${baseUrl.replace('http', 'ws')}/v1/withdrawals/stream`, protocols, options);
    ws.once('open', () => resolve({ ws }));
    ws.once('unexpected-response', (_req, res) => {
      resolve({ status: res.statusCode });
      res.resume();
    });
    ws.once('error', () => resolve({}));
  });
}

function nextMessage(ws: WebSocket): Promise<Record<string, unknown>> {
  return new Promise((resolve) =>
    ws.once('message', (m: Buffer) => resolve(JSON.parse(m.toString('utf8')) as Record<string, unknown>)),
  );
}

describe('query API authentication', () => {
  it.each([
    `/v1/wallets/${WALLET_A}`,
    `/v1/wallets/${WALLET_A}/transactions`,
    `/v1/withdrawals/${WITHDRAWAL_B}`,
    `/v1/withdrawals/${WITHDRAWAL_B}/events`,
    '/v1/unknown',
  ])('GET %s without a token: 401 problem+json with a Bearer challenge', async (path) => {
    const res = await get(path);
    expect(res.status).toBe(401);
    expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(res.headers.get('www-authenticate')).toBe('Bearer realm="sluice"');
  });

  it('the WebSocket upgrade without a token: 401', async () => {
    expect((await connect({})).status).toBe(401);
  });

  it('leaves health and metrics open', async () => {
    expect((await get('/health/live')).status).toBe(200);
    expect((await get('/metrics')).status).toBe(200);
  });

  it.each<[string, () => Promise<string>]>([
    ['another audience', () => issuer.token('alice', CUSTOMER, { audience: 'other' })],
    ['another issuer', () => issuer.token('alice', CUSTOMER, { issuer: 'https://elsewhere.test/' })],
    ['an expired token', () => issuer.token('alice', CUSTOMER, { issuedAt: Math.floor(Date.now() / 1000) - 7_200, ttlSec: 60 })],
    [
      'another key',
      () => DevIssuer.generate(issuer.issuer.issuer, issuer.issuer.audience).token({ subject: 'alice', scope: CUSTOMER }),
    ],
  ])('%s: 401 invalid_token on reads and on the WebSocket upgrade', async (_label, mint) => {
    const token = await mint();
    const res = await get(`/v1/wallets/${WALLET_A}`, `Bearer ${token}`);
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toMatch(/^Bearer realm="sluice", error="invalid_token", error_description="/);
    expect((await connect({ headers: { authorization: `Bearer ${token}` } })).status).toBe(401);
  });

  it('a token without a read scope: 403 insufficient_scope', async () => {
    const res = await get(`/v1/wallets/${WALLET_A}`, await bearer('alice', 'wallets:open'));
    expect(res.status).toBe(403);
    expect(res.headers.get('www-authenticate')).toBe('Bearer realm="sluice", error="insufficient_scope", scope="wallets:read"');
  });
});

describe('query API ownership', () => {
  it("the owner reads its wallet; subject A on B's wallet: 404 wallet_not_found with no balance or id", async () => {
    expect((await get(`/v1/wallets/${WALLET_A}`, await bearer('alice'))).body).toMatchObject({
      walletId: WALLET_A,
      balance: 500,
    });
    const res = await get(`/v1/wallets/${WALLET_B}`, await bearer('alice'));
    expect(res.status).toBe(404);
    expect(res.body).toMatchObject({ code: 'wallet_not_found' });
    expect(res.text).not.toMatch(/balance|500/);
    expect(res.headers.get('etag')).toBeNull();
  });

  it("subject A on B's transactions: 404; B and support read them", async () => {
    const res = await get(`/v1/wallets/${WALLET_B}/transactions`, await bearer('alice'));
    expect(res.status).toBe(404);
    expect(res.text).not.toContain('"items"');
    expect((await get(`/v1/wallets/${WALLET_B}/transactions`, await bearer('bob'))).body).toMatchObject({
      items: [expect.objectContaining({ amount: 500 })],
    });
    expect((await get(`/v1/wallets/${WALLET_B}/transactions`, await bearer('support', 'wallets:read:any'))).status).toBe(200);
  });

  it("subject A on B's withdrawal: 404 withdrawal_not_found without its wallet id; B reads it", async () => {
    const res = await get(`/v1/withdrawals/${WITHDRAWAL_B}`, await bearer('alice'));
    expect(res.status).toBe(404);
    expect(res.body).toMatchObject({ code: 'withdrawal_not_found' });
    expect(res.text).not.toContain(WALLET_B);
    expect((await get(`/v1/withdrawals/${WITHDRAWAL_B}`, await bearer('bob'))).body).toMatchObject({ walletId: WALLET_B });
  });

  it("subject A's SSE stream of B's withdrawal: 404; B's stream opens", async () => {
    const res = await get(`/v1/withdrawals/${WITHDRAWAL_B}/events`, await bearer('alice'));
    expect(res.status).toBe(404);
    expect(res.body).toMatchObject({ code: 'withdrawal_not_found' });
    expect((await get(`/v1/withdrawals/${WITHDRAWAL_B}/events`, await bearer('bob'))).status).toBe(200);
  });

  it("subject A subscribing to B's withdrawal over WebSocket: withdrawal_not_found, as for an unknown one; B gets its status", async () => {
    const alice = (await connect({ headers: { authorization: await bearer('alice') } })).ws!;
    alice.send(JSON.stringify({ type: 'subscribe', withdrawalId: WITHDRAWAL_B }));
    expect(await nextMessage(alice)).toEqual({ type: 'error', code: 'withdrawal_not_found', withdrawalId: WITHDRAWAL_B });
    alice.close();
    const bob = (await connect({ headers: { authorization: await bearer('bob') } })).ws!;
    bob.send(JSON.stringify({ type: 'subscribe', withdrawalId: WITHDRAWAL_B }));
    expect(await nextMessage(bob)).toMatchObject({ type: 'status', withdrawal: { withdrawalId: WITHDRAWAL_B } });
    bob.close();
  });
});

describe('stream origins and browser WebSocket tokens', () => {
  it('SSE from a disallowed Origin: 403; from an allowed one or none: 200', async () => {
    const auth = await bearer('bob');
    const path = `/v1/withdrawals/${WITHDRAWAL_B}/events`;
    const refused = await get(path, auth, { origin: 'https://evil.test' });
    expect(refused.status).toBe(403);
    expect(refused.body).toMatchObject({ code: 'origin_not_allowed' });
    expect((await get(path, auth, { origin: ALLOWED_ORIGIN })).status).toBe(200);
  });

  it('WebSocket from a disallowed Origin: refused 403 before the upgrade', async () => {
    const auth = await bearer('bob');
    expect((await connect({ headers: { authorization: auth }, origin: 'https://evil.test' })).status).toBe(403);
    const allowed = await connect({ headers: { authorization: auth }, origin: ALLOWED_ORIGIN });
    expect(allowed.ws).toBeDefined();
    allowed.ws!.close();
  });

  it('a browser WebSocket authenticates with the bearer.<token> subprotocol; the server selects sluice.v1, never the token', async () => {
    const token = await issuer.token('bob', CUSTOMER);
    const { ws } = await connect({ origin: ALLOWED_ORIGIN }, ['sluice.v1', `bearer.${token}`]);
    expect(ws?.protocol).toBe('sluice.v1');
    ws!.send(JSON.stringify({ type: 'subscribe', withdrawalId: WITHDRAWAL_B }));
    expect(await nextMessage(ws!)).toMatchObject({ type: 'status' });
    ws!.close();
  });

  it('caps one principal’s streams (429) while another principal still connects', async () => {
    const auth = await bearer('carol', 'wallets:read:any');
    const first = await connect({ headers: { authorization: auth } });
    const second = await connect({ headers: { authorization: auth } });
    expect((await connect({ headers: { authorization: auth } })).status).toBe(429);
    const other = await connect({ headers: { authorization: await bearer('dave', 'wallets:read:any') } });
    expect(other.ws).toBeDefined();
    for (const c of [first, second, other]) c.ws!.close();
    expect(await registry.getSingleMetricAsString('sluice_stream_refused_total')).toMatch(
      /transport="websocket",reason="principal_limit"[^}]*\} 1/,
    );
  });
});

describe('query API start-up', () => {
  it('refuses to start in production without issuer, audience and key set', () => {
    expect(() => loadConfig(queryApiConfig, {})).toThrow(/AUTH_ISSUER is required outside development/);
  });
});
