import type { FastifyInstance } from 'fastify';
import { testIssuer, uniqueName } from '@sluice/testing';
import type { CommandApi } from './app';
import { startTestCommandApi, type TestCommandApi } from './test-support/command-api-fixture';

/**
 * The command API writing its outbox for the polling relay (OUTBOX_MODE=polling): the rows the
 * save statement inserts stay in the table, numbered in commit order per wallet, for the relay to
 * publish and delete; a refused command leaves none.
 */
let t: TestCommandApi;
let api: CommandApi;
let http: FastifyInstance;

/** A subject with every scope: the requests here are not about authorization. */
let AUTH: Record<string, string>;

beforeAll(async () => {
  AUTH = await testIssuer().bearer('test-user');
  t = await startTestCommandApi('command_api_polling', { OUTBOX_MODE: 'polling' });
  ({ api, http } = t);
});

afterAll(() => t?.close());

async function post(url: string, body: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await http.inject({
    method: 'POST',
    url,
    headers: { ...AUTH, 'content-type': 'application/json', 'idempotency-key': uniqueName('key') },
    payload: JSON.stringify(body),
  });
  return { status: res.statusCode, json: res.json<Record<string, unknown>>() };
}

describe('command API with a polling outbox (real PostgreSQL and schema registry)', () => {
  it('keeps each event as an outbox row in commit order; a refused command writes none', async () => {
    const opened = await post('/v1/wallets', { currency: 'EUR' });
    expect(opened.status).toBe(201);
    const walletId = String(opened.json.walletId);
    expect((await post(`/v1/wallets/${walletId}/deposits`, { amount: 500, currency: 'EUR' })).status).toBe(201);
    expect((await post(`/v1/wallets/${walletId}/deposits`, { amount: 250, currency: 'EUR' })).status).toBe(201);
    const refused = await post(`/v1/wallets/${walletId}/withdrawals`, { amount: 10_000, currency: 'EUR' });
    expect(refused.status).toBe(422);

    const { rows } = await api.pool.query<{ type: string; aggregatetype: string; bytes: number }>(
      'SELECT type, aggregatetype, octet_length(payload) AS bytes FROM outbox WHERE aggregateid = $1 ORDER BY seq',
      [walletId],
    );
    expect(rows.map((r) => r.type)).toEqual(['WalletOpened', 'FundsDeposited', 'FundsDeposited']);
    expect(rows.every((r) => r.aggregatetype === 'wallet' && r.bytes > 5)).toBe(true);
  });
});
