import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { DevIssuer } from '@sluice/auth';
import { loadConfig } from '@sluice/config';
import { testIssuer, uniqueName } from '@sluice/testing';
import { commandApiConfig } from './config';
import { startTestCommandApi, type TestCommandApi } from './test-support/command-api-fixture';

/**
 * Authentication and authorization of the command API against the real
 * database, with tokens of the test issuer verified as in production.
 */
let t: TestCommandApi;
let http: FastifyInstance;
const issuer = testIssuer();
const CUSTOMER = 'wallets:open wallets:read withdrawals:request';
const FUNDING = 'funds:deposit';

beforeAll(async () => {
  t = await startTestCommandApi('command_auth');
  http = t.http;
});

afterAll(async () => {
  await t?.close();
});

async function send(
  method: 'GET' | 'POST',
  url: string,
  authorization: string | undefined,
  body?: unknown,
  key = uniqueName('k'),
): Promise<LightMyRequestResponse> {
  return http.inject({
    method,
    url,
    headers: {
      ...(authorization !== undefined && { authorization }),
      ...(body !== undefined && { 'content-type': 'application/json', 'idempotency-key': key }),
    },
    ...(body !== undefined && { payload: JSON.stringify(body) }),
  });
}

const bearer = async (subject: string, scope: string) => (await issuer.bearer(subject, scope)).authorization;

async function openWallet(subject: string): Promise<string> {
  const res = await send('POST', '/v1/wallets', await bearer(subject, CUSTOMER), { currency: 'EUR' });
  expect(res.statusCode).toBe(201);
  return res.json<{ walletId: string }>().walletId;
}

async function fund(walletId: string, amount: number): Promise<void> {
  const res = await send('POST', `/v1/wallets/${walletId}/deposits`, await bearer('funding-svc', FUNDING), {
    amount,
    currency: 'EUR',
  });
  expect(res.statusCode).toBe(201);
}

const SOME_WALLET = '0190a000-0000-7000-8000-0000000000aa';
const ENDPOINTS: [method: 'GET' | 'POST', url: string, body: unknown][] = [
  ['POST', '/v1/wallets', { currency: 'EUR' }],
  ['POST', `/v1/wallets/${SOME_WALLET}/deposits`, { amount: 1, currency: 'EUR' }],
  ['POST', `/v1/wallets/${SOME_WALLET}/withdrawals`, { amount: 1, currency: 'EUR' }],
  ['GET', `/v1/withdrawals/${SOME_WALLET}`, undefined],
  ['GET', '/v1/no-such-route', undefined],
];

describe('command API authentication', () => {
  it.each(ENDPOINTS)('%s %s without a token: 401 problem+json with a bare Bearer challenge', async (method, url, body) => {
    const res = await send(method, url, undefined, body);
    expect(res.statusCode).toBe(401);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.headers['www-authenticate']).toBe('Bearer realm="sluice"');
    expect(res.json()).toMatchObject({ status: 401, code: 'unauthenticated' });
  });

  it('leaves health and metrics open', async () => {
    expect((await send('GET', '/health/live', undefined)).statusCode).toBe(200);
    expect((await send('GET', '/metrics', undefined)).statusCode).toBe(200);
  });

  const now = () => Math.floor(Date.now() / 1000);
  it.each<[string, () => Promise<string>, string]>([
    ['another audience', () => issuer.token('alice', CUSTOMER, { audience: 'another-api' }), 'the token is for another audience'],
    [
      'another issuer',
      () => issuer.token('alice', CUSTOMER, { issuer: 'https://evil.example/' }),
      'the token is from another issuer',
    ],
    ['an expired token', () => issuer.token('alice', CUSTOMER, { issuedAt: now() - 3_600, ttlSec: 600 }), 'the token expired'],
    [
      'another key',
      () => DevIssuer.generate(issuer.issuer.issuer, issuer.issuer.audience).token({ subject: 'alice', scope: CUSTOMER }),
      'the token is signed by an unknown key',
    ],
    ['a malformed token', () => Promise.resolve('not-a-jwt'), 'the token is malformed'],
  ])('refuses %s: 401 invalid_token with its WWW-Authenticate challenge', async (_label, mint, description) => {
    const res = await send('POST', '/v1/wallets', `Bearer ${await mint()}`, { currency: 'EUR' });
    expect(res.statusCode).toBe(401);
    expect(res.headers['www-authenticate']).toBe(
      `Bearer realm="sluice", error="invalid_token", error_description="${description}"`,
    );
    expect(res.json()).toMatchObject({ status: 401, code: 'invalid_token', detail: description });
  });

  it('refuses another scheme than Bearer: 401 invalid_token', async () => {
    const res = await send('GET', `/v1/withdrawals/${SOME_WALLET}`, 'Basic dXNlcjpwYXNz');
    expect(res.statusCode).toBe(401);
    expect(res.headers['www-authenticate']).toMatch(/^Bearer realm="sluice", error="invalid_token"/);
  });

  it('counts the front door outcomes', async () => {
    const metrics = await t.registry.getSingleMetricAsString('sluice_auth_requests_total');
    expect(metrics).toMatch(/outcome="missing"[^}]*\} [1-9]/);
    expect(metrics).toMatch(/outcome="invalid"[^}]*\} [1-9]/);
  });
});

describe('command API authorization', () => {
  it('a customer token without funds:deposit: 403 insufficient_scope naming the scope, and no deposit', async () => {
    const walletId = await openWallet('alice');
    const res = await send('POST', `/v1/wallets/${walletId}/deposits`, await bearer('alice', CUSTOMER), {
      amount: 100,
      currency: 'EUR',
    });
    expect(res.statusCode).toBe(403);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.headers['www-authenticate']).toBe('Bearer realm="sluice", error="insufficient_scope", scope="funds:deposit"');
    expect(res.json()).toMatchObject({ status: 403, code: 'insufficient_scope', scope: 'funds:deposit' });
    const { rows } = await t.api.pool.query('SELECT 1 FROM deposits WHERE wallet_id = $1', [walletId]);
    expect(rows).toHaveLength(0);
  });

  it('a token without wallets:open cannot open a wallet: 403', async () => {
    const res = await send('POST', '/v1/wallets', await bearer('bob', 'wallets:read'), { currency: 'EUR' });
    expect(res.statusCode).toBe(403);
    expect(res.json()).toMatchObject({ code: 'insufficient_scope', scope: 'wallets:open' });
  });

  it('records the subject that opened a wallet as its owner', async () => {
    const walletId = await openWallet('carol');
    const { rows } = await t.api.pool.query<{ owner: string }>('SELECT owner FROM wallets WHERE id = $1', [walletId]);
    expect(rows[0]?.owner).toBe('carol');
  });

  it("subject A withdrawing from B's wallet: 404 wallet_not_found, as for a wallet that does not exist, and nothing held", async () => {
    const walletB = await openWallet('bob');
    await fund(walletB, 1_000);
    const res = await send('POST', `/v1/wallets/${walletB}/withdrawals`, await bearer('alice', CUSTOMER), {
      amount: 100,
      currency: 'EUR',
    });
    expect(res.statusCode).toBe(404);
    expect(res.json()).toMatchObject({ code: 'wallet_not_found', detail: `wallet ${walletB} does not exist` });
    expect(res.body).not.toMatch(/balance|1000/);
    const { rows } = await t.api.pool.query<{ held: string }>('SELECT held::text FROM wallets WHERE id = $1', [walletB]);
    expect(rows[0]?.held).toBe('0');
    // The refused key is free again: the same request by the owner goes through.
    const own = await send('POST', `/v1/wallets/${walletB}/withdrawals`, await bearer('bob', CUSTOMER), {
      amount: 100,
      currency: 'EUR',
    });
    expect(own.statusCode).toBe(202);
  });

  it("subject A reading B's withdrawal: 404 withdrawal_not_found; B and support (wallets:read:any) read it", async () => {
    const walletB = await openWallet('bob');
    await fund(walletB, 500);
    const requested = await send('POST', `/v1/wallets/${walletB}/withdrawals`, await bearer('bob', CUSTOMER), {
      amount: 200,
      currency: 'EUR',
    });
    expect(requested.statusCode).toBe(202);
    const location = requested.headers.location as string;
    const asAlice = await send('GET', location, await bearer('alice', CUSTOMER));
    expect(asAlice.statusCode).toBe(404);
    expect(asAlice.json()).toMatchObject({ code: 'withdrawal_not_found' });
    expect(asAlice.body).not.toContain(walletB);
    expect((await send('GET', location, await bearer('bob', CUSTOMER))).statusCode).toBe(200);
    expect((await send('GET', location, await bearer('support-1', 'wallets:read:any'))).statusCode).toBe(200);
    expect((await send('GET', location, await bearer('bob', 'withdrawals:request'))).statusCode).toBe(403);
  });

  it('the same Idempotency-Key from two subjects: two wallets, each its own response', async () => {
    const key = uniqueName('shared-key');
    const a = await send('POST', '/v1/wallets', await bearer('alice', CUSTOMER), { currency: 'EUR' }, key);
    const b = await send('POST', '/v1/wallets', await bearer('bob', CUSTOMER), { currency: 'EUR' }, key);
    expect(a.statusCode).toBe(201);
    expect(b.statusCode).toBe(201);
    expect(b.headers['idempotent-replayed']).toBe('false');
    expect(a.json<{ walletId: string }>().walletId).not.toBe(b.json<{ walletId: string }>().walletId);
    const again = await send('POST', '/v1/wallets', await bearer('alice', CUSTOMER), { currency: 'EUR' }, key);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.body).toBe(a.body);
  });

  it('a client-credentials token (client_id, no sub) acts as its client', async () => {
    const walletId = await openWallet('dave');
    const token = await issuer.token('funding-svc', FUNDING, { clientCredentials: true });
    const res = await send('POST', `/v1/wallets/${walletId}/deposits`, `Bearer ${token}`, { amount: 5, currency: 'EUR' });
    expect(res.statusCode).toBe(201);
    const { rows } = await t.api.pool.query<{ principal: string }>(
      `SELECT principal FROM audit_log WHERE wallet_id = $1 AND command_type = 'DepositFunds'`,
      [walletId],
    );
    expect(rows.map((r) => r.principal)).toEqual(['funding-svc']);
  });
});

describe('audit log', () => {
  it('appends one row per accepted command: who, what, wallet, amount and the Idempotency-Key', async () => {
    const key = uniqueName('open');
    const opened = await send('POST', '/v1/wallets', await bearer('erin', CUSTOMER), { currency: 'EUR' }, key);
    const walletId = opened.json<{ walletId: string }>().walletId;
    await fund(walletId, 300);
    const wkey = uniqueName('wd');
    await send(
      'POST',
      `/v1/wallets/${walletId}/withdrawals`,
      await bearer('erin', CUSTOMER),
      { amount: 120, currency: 'EUR' },
      wkey,
    );
    // Refused and replayed commands add nothing.
    await send('POST', `/v1/wallets/${walletId}/withdrawals`, await bearer('erin', CUSTOMER), {
      amount: 10_000,
      currency: 'EUR',
    });
    await send(
      'POST',
      `/v1/wallets/${walletId}/withdrawals`,
      await bearer('erin', CUSTOMER),
      { amount: 120, currency: 'EUR' },
      wkey,
    );
    const { rows } = await t.api.pool.query(
      `SELECT principal, source, command_type, amount::int, currency, request_id, recorded_at IS NOT NULL AS dated
         FROM audit_log WHERE wallet_id = $1 ORDER BY seq`,
      [walletId],
    );
    expect(rows).toEqual([
      {
        principal: 'erin',
        source: 'http',
        command_type: 'OpenWallet',
        amount: null,
        currency: 'EUR',
        request_id: key,
        dated: true,
      },
      {
        principal: 'funding-svc',
        source: 'http',
        command_type: 'DepositFunds',
        amount: 300,
        currency: 'EUR',
        request_id: expect.any(String),
        dated: true,
      },
      {
        principal: 'erin',
        source: 'http',
        command_type: 'RequestWithdrawal',
        amount: 120,
        currency: 'EUR',
        request_id: wkey,
        dated: true,
      },
    ]);
  });

  it('refuses UPDATE, DELETE and TRUNCATE of audit rows', async () => {
    await openWallet('frank');
    await expect(t.api.pool.query(`UPDATE audit_log SET principal = 'someone-else' WHERE principal = 'frank'`)).rejects.toThrow(
      'audit_log is append-only: UPDATE refused',
    );
    await expect(t.api.pool.query(`DELETE FROM audit_log WHERE principal = 'frank'`)).rejects.toThrow(
      'audit_log is append-only: DELETE refused',
    );
    await expect(t.api.pool.query('TRUNCATE audit_log')).rejects.toThrow('audit_log is append-only: TRUNCATE refused');
    const { rows } = await t.api.pool.query(`SELECT 1 FROM audit_log WHERE principal = 'frank'`);
    expect(rows).toHaveLength(1);
  });
});

describe('start-up without auth settings', () => {
  it('refuses to start in production (the default) without issuer, audience and key set', () => {
    expect(() => loadConfig(commandApiConfig, {})).toThrow(/AUTH_ISSUER is required outside development/);
  });

  it('starts in development on the local dev issuer', () => {
    expect(loadConfig(commandApiConfig, { SLUICE_ENV: 'development' }).SLUICE_ENV).toBe('development');
  });
});
