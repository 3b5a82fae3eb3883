import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { createLogger, createMetricsRegistry, type Registry } from '@sluice/observability';
import { testIssuer, uniqueName } from '@sluice/testing';
import { buildCommandApi, type CommandApi } from './app';
import type { CommandApiConfig } from './config';
import { startTestCommandApi, WalChanges, type TestCommandApi } from './test-support/command-api-fixture';

let t: TestCommandApi;
let api: CommandApi;
let http: FastifyInstance;
let wal: WalChanges;
let config: CommandApiConfig;
let registry: Registry;

/** A subject with every scope: the requests here are not about authorization. */
let AUTH: Record<string, string>;

beforeAll(async () => {
  AUTH = await testIssuer().bearer('test-user');
  t = await startTestCommandApi('command_api', {
    // The hot-wallet test sends 100 requests at once from one client.
    DB_ADMISSION_QUEUE_DEPTH: '500',
    DB_ADMISSION_QUEUE_WAIT_MS: '5000',
    REQUEST_BUDGET_MS: '10000',
  });
  ({ api, http, config, registry } = t);
  wal = await WalChanges.open(t.db.url, 'cmd_api_test_decoding');
});

afterAll(async () => {
  await wal?.close();
  await t?.close();
});

/** Row changes written since the last call, as test_decoding prints them. */
const walChanges = () => wal.changes();

function post(url: string, body: unknown, headers: Record<string, string> = {}): Promise<LightMyRequestResponse> {
  return http.inject({
    method: 'POST',
    url,
    headers: { ...AUTH, 'content-type': 'application/json', ...headers },
    payload: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

async function openWallet(currency = 'EUR'): Promise<string> {
  const res = await post('/v1/wallets', { currency }, { 'idempotency-key': uniqueName('open') });
  expect(res.statusCode).toBe(201);
  return res.json<{ walletId: string }>().walletId;
}

describe('command API (real PostgreSQL and schema registry)', () => {
  it('opens a wallet: 201 with its id, currency and version 1, and writes the wallet and its WalletOpened event', async () => {
    await walChanges();
    const res = await post('/v1/wallets', { currency: 'EUR' }, { 'idempotency-key': uniqueName('open') });
    expect(res.statusCode).toBe(201);
    const body = res.json<{ walletId: string; currency: string; version: number }>();
    expect(body).toEqual({ walletId: expect.stringMatching(/^[0-9a-f-]{36}$/), currency: 'EUR', version: 1 });
    expect(res.headers.location).toBe(`/v1/wallets/${body.walletId}`);
    const changes = await walChanges();
    expect(changes.filter((c) => c.startsWith('table public.wallets: INSERT'))).toHaveLength(1);
    expect(changes.filter((c) => c.startsWith('table public.outbox: INSERT') && c.includes(`'WalletOpened'`))).toHaveLength(1);
    // The row stays for the relay to publish and prune: a lost slot can then lose no event.
    expect(changes.filter((c) => c.startsWith('table public.outbox: DELETE'))).toHaveLength(0);
  });

  it('deposits: 201 with the new balance and version; state, deposit row and outbox event in one transaction; the outbox row kept for the relay', async () => {
    const walletId = await openWallet();
    await walChanges();
    const res = await post(
      `/v1/wallets/${walletId}/deposits`,
      { amount: 1250, currency: 'EUR' },
      { 'idempotency-key': uniqueName('k') },
    );
    expect(res.statusCode).toBe(201);
    expect(res.json()).toEqual({ depositId: expect.any(String), walletId, balance: 1250, version: 2 });
    const changes = await walChanges();
    expect(changes.some((c) => c.startsWith('table public.wallets: UPDATE') && c.includes('balance[bigint]:1250'))).toBe(true);
    expect(changes.some((c) => c.startsWith('table public.deposits: INSERT') && c.includes('amount[bigint]:1250'))).toBe(true);
    expect(
      changes.some(
        (c) => c.startsWith('table public.outbox: INSERT') && c.includes(`aggregateid[character varying]:'${walletId}'`),
      ),
    ).toBe(true);
    expect(changes.some((c) => c.startsWith('table public.idempotency_keys: INSERT'))).toBe(true);
    const { rows } = await api.pool.query<{ n: string }>('SELECT count(*)::text AS n FROM outbox WHERE aggregateid = $1', [
      walletId,
    ]);
    expect(rows[0]!.n).toBe('2');
  });

  it('replays the stored response for a repeated Idempotency-Key (one effect), and answers 422 for the same key with another body', async () => {
    const walletId = await openWallet();
    const key = uniqueName('key');
    const first = await post(`/v1/wallets/${walletId}/deposits`, { amount: 500, currency: 'EUR' }, { 'idempotency-key': key });
    await walChanges();
    const again = await post(`/v1/wallets/${walletId}/deposits`, { currency: 'EUR', amount: 500 }, { 'idempotency-key': key });
    expect(again.statusCode).toBe(201);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(first.headers['idempotent-replayed']).toBe('false');
    expect(again.json()).toEqual(first.json());

    const other = await post(`/v1/wallets/${walletId}/deposits`, { amount: 501, currency: 'EUR' }, { 'idempotency-key': key });
    expect(other.statusCode).toBe(422);
    expect(other.json()).toMatchObject({ status: 422, code: 'idempotency_key_reused' });
    expect(await walChanges()).toEqual([]);
    const { rows } = await api.pool.query<{ n: string; balance: string }>(
      'SELECT (SELECT count(*) FROM deposits WHERE wallet_id = $1)::text AS n, (SELECT balance FROM wallets WHERE id = $1)::text AS balance',
      [walletId],
    );
    expect(rows[0]).toEqual({ n: '1', balance: '500' });
  });

  it('applies 20 concurrent copies of one request exactly once', async () => {
    const walletId = await openWallet();
    const key = uniqueName('key');
    const responses = await Promise.all(
      Array.from({ length: 20 }, () =>
        post(`/v1/wallets/${walletId}/deposits`, { amount: 7, currency: 'EUR' }, { 'idempotency-key': key }),
      ),
    );
    expect(responses.map((r) => r.statusCode)).toEqual(Array(20).fill(201));
    expect(new Set(responses.map((r) => r.body)).size).toBe(1);
    expect(responses.filter((r) => r.headers['idempotent-replayed'] === 'false')).toHaveLength(1);
    const { rows } = await api.pool.query<{ balance: string }>('SELECT balance::text FROM wallets WHERE id = $1', [walletId]);
    expect(rows[0]!.balance).toBe('7');
  });

  async function deposit(walletId: string, amount: number): Promise<void> {
    const res = await post(
      `/v1/wallets/${walletId}/deposits`,
      { amount, currency: 'EUR' },
      { 'idempotency-key': uniqueName('dep') },
    );
    expect(res.statusCode).toBe(201);
  }

  it('accepts a withdrawal with 202, Location, Retry-After and the status body; holds the amount with its event in one transaction', async () => {
    const walletId = await openWallet();
    await deposit(walletId, 1_000);
    await walChanges();
    const key = uniqueName('wd');
    const res = await post(`/v1/wallets/${walletId}/withdrawals`, { amount: 400, currency: 'EUR' }, { 'idempotency-key': key });
    expect(res.statusCode).toBe(202);
    const body = res.json<{ withdrawalId: string; state: string; nextCheckSec: number }>();
    expect(body).toEqual({ withdrawalId: expect.stringMatching(/^[0-9a-f-]{36}$/), state: 'requested', nextCheckSec: 2 });
    expect(res.headers.location).toBe(`/v1/withdrawals/${body.withdrawalId}`);
    expect(res.headers['retry-after']).toBe('2');
    const changes = await walChanges();
    expect(changes.some((c) => c.startsWith('table public.wallets: UPDATE') && c.includes('held[bigint]:400'))).toBe(true);
    expect(changes.some((c) => c.startsWith('table public.withdrawals: INSERT') && c.includes(`'requested'`))).toBe(true);
    expect(changes.some((c) => c.startsWith('table public.outbox: INSERT') && c.includes(`'WithdrawalRequested'`))).toBe(true);

    const replay = await post(
      `/v1/wallets/${walletId}/withdrawals`,
      { amount: 400, currency: 'EUR' },
      { 'idempotency-key': key },
    );
    expect(replay.statusCode).toBe(202);
    expect(replay.body).toBe(res.body);
    expect(replay.headers['idempotent-replayed']).toBe('true');
    expect(replay.headers.location).toBe(res.headers.location);

    const status = await http.inject({ method: 'GET', url: res.headers.location as string, headers: AUTH });
    expect(status.statusCode).toBe(200);
    expect(status.headers['retry-after']).toBe('2');
    expect(status.json()).toMatchObject({
      withdrawalId: body.withdrawalId,
      walletId,
      amount: 400,
      currency: 'EUR',
      state: 'requested',
    });
    // Clients polling together share one query (single flight).
    const polls = await Promise.all(
      Array.from({ length: 20 }, () => http.inject({ method: 'GET', url: res.headers.location as string, headers: AUTH })),
    );
    expect(new Set(polls.map((p) => `${p.statusCode} ${p.body}`))).toEqual(new Set([`200 ${status.body}`]));
    expect(await registry.getSingleMetricAsString('sluice_singleflight_coalesced_total')).toMatch(
      /operation="withdrawal_status"[^}]*\} [1-9]/,
    );
    const unknown = await http.inject({
      method: 'GET',
      url: '/v1/withdrawals/0190a000-0000-7000-8000-000000000000',
      headers: AUTH,
    });
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json()).toMatchObject({ code: 'withdrawal_not_found' });
  });

  it('a hot wallet: 100 concurrent withdrawals of 50 against 1,000 accept exactly 20, refuse the rest as insufficient funds, and lose no update', async () => {
    const walletId = await openWallet();
    await deposit(walletId, 1_000);
    const responses = await Promise.all(
      Array.from({ length: 100 }, () =>
        post(`/v1/wallets/${walletId}/withdrawals`, { amount: 50, currency: 'EUR' }, { 'idempotency-key': uniqueName('hot') }),
      ),
    );
    const statuses = responses.map((r) => r.statusCode);
    const accepted = statuses.filter((s) => s === 202).length;
    expect(accepted).toBeLessThanOrEqual(20);
    expect(accepted).toBe(20);
    expect(statuses.filter((s) => s !== 202).every((s) => s === 422)).toBe(true);
    const { rows } = await api.pool.query<{ balance: string; held: string; version: number; n: string; sum: string }>(
      `SELECT w.balance::text, w.held::text, w.version,
              (SELECT count(*) FROM withdrawals WHERE wallet_id = w.id)::text AS n,
              (SELECT coalesce(sum(amount), 0) FROM withdrawals WHERE wallet_id = w.id)::text AS sum
         FROM wallets w WHERE w.id = $1`,
      [walletId],
    );
    expect(rows[0]).toEqual({
      balance: '1000',
      held: '1000',
      version: 2 + accepted,
      n: String(accepted),
      sum: String(accepted * 50),
    });
  });

  it('two processes on one hot wallet: optimistic version checks keep the sums exact, with no deadlock and no lost update', async () => {
    const other = await buildCommandApi(config, createLogger('command-api-test-2', 'warn'), createMetricsRegistry('t2', false));
    try {
      await other.app.init();
      const otherHttp = other.app.getHttpAdapter().getInstance();
      const walletId = await openWallet();
      await deposit(walletId, 1_000);
      const send = (target: FastifyInstance) =>
        target.inject({
          method: 'POST',
          url: `/v1/wallets/${walletId}/withdrawals`,
          headers: { ...AUTH, 'content-type': 'application/json', 'idempotency-key': uniqueName('x') },
          payload: JSON.stringify({ amount: 50, currency: 'EUR' }),
        });
      const responses = await Promise.all(Array.from({ length: 60 }, (_, i) => send(i % 2 === 0 ? http : otherHttp)));
      const statuses = responses.map((r) => r.statusCode);
      expect(statuses.every((s) => s === 202 || s === 422 || s === 409)).toBe(true);
      const accepted = statuses.filter((s) => s === 202).length;
      expect(accepted).toBeLessThanOrEqual(20);
      const { rows } = await api.pool.query<{ held: string; version: number; sum: string }>(
        `SELECT w.held::text, w.version, (SELECT coalesce(sum(amount), 0) FROM withdrawals WHERE wallet_id = w.id)::text AS sum
           FROM wallets w WHERE w.id = $1`,
        [walletId],
      );
      expect(rows[0]).toEqual({ held: String(accepted * 50), version: 2 + accepted, sum: String(accepted * 50) });
    } finally {
      await other.close();
    }
  });

  describe('bad input gets problem+json and writes nothing', () => {
    let walletId: string;
    beforeAll(async () => {
      walletId = await openWallet('EUR');
    });
    const oversized = JSON.stringify({ amount: 1, currency: 'EUR', note: 'x'.repeat(20_000) });
    const cases: [string, number, string, () => Promise<LightMyRequestResponse>][] = [
      [
        'zero amount',
        400,
        'validation_failed',
        () => post(`/v1/wallets/${walletId}/deposits`, { amount: 0, currency: 'EUR' }, { 'idempotency-key': 'b1' }),
      ],
      [
        'negative amount',
        400,
        'validation_failed',
        () => post(`/v1/wallets/${walletId}/deposits`, { amount: -5, currency: 'EUR' }, { 'idempotency-key': 'b2' }),
      ],
      [
        'fractional amount',
        400,
        'validation_failed',
        () => post(`/v1/wallets/${walletId}/deposits`, { amount: 12.5, currency: 'EUR' }, { 'idempotency-key': 'b3' }),
      ],
      [
        'huge amount',
        400,
        'validation_failed',
        () =>
          post(`/v1/wallets/${walletId}/deposits`, '{"amount": 9007199254740993, "currency": "EUR"}', {
            'idempotency-key': 'b4',
          }),
      ],
      [
        'amount as a string',
        400,
        'validation_failed',
        () => post(`/v1/wallets/${walletId}/deposits`, { amount: '10', currency: 'EUR' }, { 'idempotency-key': 'b5' }),
      ],
      [
        'unknown currency',
        400,
        'validation_failed',
        () => post(`/v1/wallets/${walletId}/deposits`, { amount: 1, currency: 'XYZ' }, { 'idempotency-key': 'b6' }),
      ],
      [
        'unknown currency on open',
        400,
        'validation_failed',
        () => post('/v1/wallets', { currency: 'EURO' }, { 'idempotency-key': 'b0' }),
      ],
      ['open without Idempotency-Key', 400, 'idempotency_key_missing', () => post('/v1/wallets', { currency: 'EUR' })],
      [
        'withdrawal of more than is available',
        422,
        'insufficient_funds',
        () => post(`/v1/wallets/${walletId}/withdrawals`, { amount: 1, currency: 'EUR' }, { 'idempotency-key': 'b14' }),
      ],
      [
        'withdrawal from an unknown wallet',
        404,
        'wallet_not_found',
        () =>
          post(
            '/v1/wallets/0190a000-0000-7000-8000-000000000000/withdrawals',
            { amount: 1, currency: 'EUR' },
            { 'idempotency-key': 'b15' },
          ),
      ],
      [
        'withdrawal with an unknown field',
        400,
        'validation_failed',
        () =>
          post(`/v1/wallets/${walletId}/withdrawals`, { amount: 1, currency: 'EUR', iban: 'x' }, { 'idempotency-key': 'b16' }),
      ],
      [
        'withdrawal of a fractional amount',
        400,
        'validation_failed',
        () => post(`/v1/wallets/${walletId}/withdrawals`, { amount: 0.5, currency: 'EUR' }, { 'idempotency-key': 'b17' }),
      ],
      [
        'withdrawal without Idempotency-Key',
        400,
        'idempotency_key_missing',
        () => post(`/v1/wallets/${walletId}/withdrawals`, { amount: 1, currency: 'EUR' }),
      ],
      [
        'other currency than the wallet',
        422,
        'currency_mismatch',
        () => post(`/v1/wallets/${walletId}/deposits`, { amount: 1, currency: 'USD' }, { 'idempotency-key': 'b7' }),
      ],
      [
        'unknown field',
        400,
        'validation_failed',
        () => post(`/v1/wallets/${walletId}/deposits`, { amount: 1, currency: 'EUR', memo: 'x' }, { 'idempotency-key': 'b8' }),
      ],
      [
        'malformed JSON',
        400,
        'malformed_json',
        () => post(`/v1/wallets/${walletId}/deposits`, '{"amount": 1,', { 'idempotency-key': 'b9' }),
      ],
      [
        'oversized body',
        413,
        'body_too_large',
        () => post(`/v1/wallets/${walletId}/deposits`, oversized, { 'idempotency-key': 'b10' }),
      ],
      [
        'not JSON',
        415,
        'unsupported_media_type',
        () =>
          post(`/v1/wallets/${walletId}/deposits`, 'amount=1', {
            'idempotency-key': 'b11',
            'content-type': 'application/x-www-form-urlencoded',
          }),
      ],
      [
        'unknown wallet',
        404,
        'wallet_not_found',
        () =>
          post(
            '/v1/wallets/0190a000-0000-7000-8000-000000000000/deposits',
            { amount: 1, currency: 'EUR' },
            { 'idempotency-key': 'b12' },
          ),
      ],
      [
        'malformed wallet id',
        400,
        'validation_failed',
        () => post('/v1/wallets/not-a-uuid/deposits', { amount: 1, currency: 'EUR' }, { 'idempotency-key': 'b13' }),
      ],
      [
        'missing Idempotency-Key',
        400,
        'idempotency_key_missing',
        () => post(`/v1/wallets/${walletId}/deposits`, { amount: 1, currency: 'EUR' }),
      ],
    ];
    it.each(cases)('%s → %i %s', async (_label, status, code, send) => {
      await walChanges();
      const res = await send();
      expect(res.statusCode).toBe(status);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(res.json()).toMatchObject({ status, code, type: expect.stringContaining('/problems/'), title: expect.any(String) });
      expect(await walChanges()).toEqual([]);
    });
  });
});
