import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { uuidv7 } from '@sluice/core';
import type { Registry } from '@sluice/observability';
import { metricValue, testIssuer, uniqueName } from '@sluice/testing';
import { decide } from '@sluice/wallet-domain';
import type { CommandApi } from '../app';
import { startTestCommandApi, WalChanges, type TestCommandApi } from '../test-support/command-api-fixture';
import { saveWallets } from './wallet-save';
import { loadWallets } from './wallet-store';

/*
 * Group commit against the real PostgreSQL and schema registry: one command
 * transaction at a time, so commands sent together travel in shared
 * transactions, and each must still get exactly its own effect and answer.
 */

let t: TestCommandApi;
let api: CommandApi;
let http: FastifyInstance;
let registry: Registry;
let wal: WalChanges;

/** A subject with every scope: the requests here are not about authorization. */
let AUTH: Record<string, string>;

beforeAll(async () => {
  AUTH = await testIssuer().bearer('test-user');
  t = await startTestCommandApi('group_commit', {
    COMMAND_GROUP_TRANSACTIONS: '1',
    COMMAND_GROUP_MAX: '16',
    REQUEST_BUDGET_MS: '10000',
  });
  ({ api, http, registry } = t);
  wal = await WalChanges.open(t.db.url, 'group_commit_test_decoding');
});

afterAll(async () => {
  await wal?.close();
  await t?.close();
});

function post(url: string, body: unknown, key = uniqueName('k')): Promise<LightMyRequestResponse> {
  return http.inject({
    method: 'POST',
    url,
    headers: { ...AUTH, 'content-type': 'application/json', 'idempotency-key': key },
    payload: JSON.stringify(body),
  });
}

async function openWallets(n: number, currency = 'EUR'): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const res = await post('/v1/wallets', { currency });
    expect(res.statusCode).toBe(201);
    ids.push(res.json<{ walletId: string }>().walletId);
  }
  return ids;
}

async function groups(): Promise<{ transactions: number; commands: number }> {
  const text = await registry.metrics();
  return {
    transactions: metricValue(text, 'sluice_command_group_size_count'),
    commands: metricValue(text, 'sluice_command_group_size_sum'),
  };
}

async function balances(ids: readonly string[]): Promise<Map<string, number>> {
  const { rows } = await api.pool.query<{ id: string; balance: string }>(
    'SELECT id, balance::text FROM wallets WHERE id = ANY($1::uuid[])',
    [ids],
  );
  return new Map(rows.map((r) => [r.id, Number(r.balance)]));
}

describe('group commit (real PostgreSQL)', () => {
  it('deposits sent together share transactions; each gets its own balance, deposit row, stored response and event', async () => {
    const wallets = await openWallets(24);
    await wal.transactions();
    const before = await groups();
    const responses = await Promise.all(
      wallets.map((w, i) => post(`/v1/wallets/${w}/deposits`, { amount: 100 + i, currency: 'EUR' })),
    );
    expect(responses.map((r) => r.statusCode)).toEqual(Array(24).fill(201));
    responses.forEach((r, i) => expect(r.json()).toMatchObject({ walletId: wallets[i], balance: 100 + i, version: 2 }));
    const after = await groups();
    expect(after.commands - before.commands).toBe(24);
    expect(after.transactions - before.transactions).toBeLessThan(24);

    const transactions = await wal.transactions();
    expect(transactions.length).toBe(after.transactions - before.transactions);
    expect(transactions.some((t) => t.filter((c) => c.startsWith('table public.deposits: INSERT')).length > 1)).toBe(true);
    const changes = transactions.flat();
    for (const [i, w] of wallets.entries()) {
      expect(changes.filter((c) => c.startsWith('table public.outbox: INSERT') && c.includes(`'${w}'`))).toHaveLength(1);
      expect(
        changes.filter((c) => c.startsWith('table public.deposits: INSERT') && c.includes(`amount[bigint]:${100 + i} `)),
      ).toHaveLength(1);
    }
    expect(Object.fromEntries(await balances(wallets))).toEqual(Object.fromEntries(wallets.map((w, i) => [w, 100 + i])));
    const { rows } = await api.pool.query<{ n: string }>(
      `SELECT count(*)::text AS n FROM idempotency_keys WHERE status_code = 201 AND response_body LIKE '{"depositId"%'`,
    );
    expect(Number(rows[0]!.n)).toBeGreaterThanOrEqual(24);
  });

  it('a refused command in a shared transaction fails alone: the others take effect and its key is released for a later retry', async () => {
    const wallets = await openWallets(12);
    const [poor, ...rich] = wallets;
    await Promise.all(rich.map((w) => post(`/v1/wallets/${w}/deposits`, { amount: 1_000, currency: 'EUR' })));
    const before = await groups();
    const refusedKey = uniqueName('refused');
    // The first request finds the transaction free and runs alone; the rest arrive while it runs and share the next.
    const [first, refused, mismatch, ...others] = await Promise.all([
      post(`/v1/wallets/${rich[1]}/withdrawals`, { amount: 300, currency: 'EUR' }),
      post(`/v1/wallets/${poor}/withdrawals`, { amount: 500, currency: 'EUR' }, refusedKey),
      post(`/v1/wallets/${rich[0]}/deposits`, { amount: 5, currency: 'USD' }),
      ...rich.slice(2).map((w) => post(`/v1/wallets/${w}/withdrawals`, { amount: 300, currency: 'EUR' })),
    ]);
    const accepted = [first, ...others];
    const after = await groups();
    expect(after.transactions - before.transactions).toBeLessThan(after.commands - before.commands);
    expect(refused.statusCode).toBe(422);
    expect(refused.json()).toMatchObject({ code: 'insufficient_funds' });
    expect(mismatch.statusCode).toBe(422);
    expect(mismatch.json()).toMatchObject({ code: 'currency_mismatch' });
    expect(accepted.map((r) => r.statusCode)).toEqual(Array(rich.length - 1).fill(202));
    const { rows } = await api.pool.query<{ held: string }>('SELECT held::text FROM wallets WHERE id = ANY($1::uuid[])', [
      rich.slice(1),
    ]);
    expect(rows.map((r) => r.held)).toEqual(Array(rich.length - 1).fill('300'));
    expect(Object.fromEntries(await balances([rich[0]!]))).toEqual({ [rich[0]!]: 1_000 });

    // The refusal stored nothing under its key: once the funds are there, the same request succeeds.
    expect((await post(`/v1/wallets/${poor}/deposits`, { amount: 800, currency: 'EUR' })).statusCode).toBe(201);
    const retried = await post(`/v1/wallets/${poor}/withdrawals`, { amount: 500, currency: 'EUR' }, refusedKey);
    expect(retried.statusCode).toBe(202);
    expect(retried.headers['idempotent-replayed']).toBe('false');
  });

  it('a batch that fails as a whole runs again one command per transaction, so only the bad command fails', async () => {
    const wallets = await openWallets(10);
    // A fault only one deposit trips: the database refuses its row outright.
    await api.pool.query(`CREATE FUNCTION refuse_13131() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN IF NEW.amount = 13131 THEN RAISE EXCEPTION 'injected fault'; END IF; RETURN NEW; END $$`);
    await api.pool.query('CREATE TRIGGER refuse_13131 BEFORE INSERT ON deposits FOR EACH ROW EXECUTE FUNCTION refuse_13131()');
    try {
      const reruns = () => registry.metrics().then((t) => metricValue(t, 'sluice_command_group_reruns_total'));
      const rerunsBefore = await reruns();
      const responses = await Promise.all(
        wallets.map((w, i) => post(`/v1/wallets/${w}/deposits`, { amount: i === 5 ? 13131 : 10 + i, currency: 'EUR' })),
      );
      expect(responses.map((r) => r.statusCode)).toEqual(wallets.map((_, i) => (i === 5 ? 500 : 201)));
      expect(await reruns()).toBeGreaterThan(rerunsBefore);
      const got = await balances(wallets);
      wallets.forEach((w, i) => expect(got.get(w)).toBe(i === 5 ? 0 : 10 + i));
    } finally {
      await api.pool.query('DROP TRIGGER refuse_13131 ON deposits; DROP FUNCTION refuse_13131()');
    }
  });

  it('a version conflict in a batch writes nothing of that command and releases its key; the others commit', async () => {
    const [stale, fresh] = await openWallets(2);
    const claims = [stale!, fresh!].map((w) => ({ clientId: 'group-commit-test', key: uniqueName(w), fingerprint: 'f' }));
    const client = await api.pool.connect();
    try {
      await client.query('BEGIN');
      const loaded = await loadWallets(
        client,
        [stale!, fresh!].map((walletId, i) => ({ walletId, withdrawalIds: [], claim: claims[i]! })),
      );
      expect(loaded.map((l) => l.claimed)).toEqual([true, true]);
      // Another process writes the first wallet after it was read.
      await api.pool.query('UPDATE wallets SET version = version + 1 WHERE id = $1', [stale]);
      const writes = loaded.map(({ state }, i) => {
        const walletId = [stale!, fresh!][i]!;
        const events = decide({ type: 'DepositFunds', walletId, depositId: uuidv7(), amount: 70, currency: 'EUR' }, state, {
          now: Date.now(),
          newId: uuidv7,
        });
        return {
          walletId,
          before: state,
          events,
          stored: { claim: claims[i]!, response: { status: 201, body: '{}', headers: {} } },
          claim: { kind: 'idempotency' as const, claim: claims[i]! },
        };
      });
      expect(await saveWallets(client, writes)).toEqual([false, true]);
      await client.query('COMMIT');
    } finally {
      client.release();
    }
    const { rows } = await api.pool.query<{ key: string; status_code: number }>(
      'SELECT key, status_code FROM idempotency_keys WHERE client_id = $1 ORDER BY key',
      ['group-commit-test'],
    );
    expect(rows).toEqual([{ key: claims[1]!.key, status_code: 201 }]);
    expect(Object.fromEntries(await balances([stale!, fresh!]))).toEqual({ [stale!]: 0, [fresh!]: 70 });
    const deposits = await api.pool.query<{ wallet_id: string }>(
      'SELECT wallet_id FROM deposits WHERE wallet_id = ANY($1::uuid[])',
      [[stale, fresh]],
    );
    expect(deposits.rows).toEqual([{ wallet_id: fresh }]);
  });
});

describe('the save statement', () => {
  it('is one prepared statement per batch shape, whatever order the wallets come in', async () => {
    const wallets = await openWallets(3);
    const [a, b, c] = wallets as [string, string, string];
    const client = await api.pool.connect();
    try {
      const prepared = async () =>
        (
          await client.query<{ n: number }>(
            "SELECT count(*)::int AS n FROM pg_prepared_statements WHERE name LIKE 'sluice_save_%'",
          )
        ).rows[0]!.n;
      const before = await prepared();
      // The same three wallets, deposited to as a batch in three different orders; in the second,
      // the first wallet (last in the batch, first in wallet order) changes after it was read, so
      // its answer must land at its own place in the batch.
      const batches = [
        { order: [a, b, c], stale: undefined, took: [true, true, true] },
        { order: [c, b, a], stale: a, took: [true, true, false] },
        { order: [b, c, a], stale: undefined, took: [true, true, true] },
      ];
      for (const { order, stale, took } of batches) {
        await client.query('BEGIN');
        const loaded = await loadWallets(
          client,
          order.map((walletId) => ({ walletId, withdrawalIds: [] })),
        );
        if (stale) await api.pool.query('UPDATE wallets SET version = version + 1 WHERE id = $1', [stale]);
        const writes = loaded.map(({ state }, i) => {
          const walletId = order[i]!;
          const events = decide({ type: 'DepositFunds', walletId, depositId: uuidv7(), amount: 5, currency: 'EUR' }, state, {
            now: Date.now(),
            newId: uuidv7,
          });
          return { walletId, before: state, events };
        });
        expect(await saveWallets(client, writes)).toEqual(took);
        await client.query('COMMIT');
      }
      expect((await prepared()) - before).toBe(1);
    } finally {
      client.release();
    }
    expect(Object.fromEntries(await balances(wallets))).toEqual({ [a]: 10, [b]: 15, [c]: 15 });
  });
});
