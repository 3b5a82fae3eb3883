import { applyMigrations, createPool, withTransaction, type Pool } from '@sluice/db';
import { createTestDatabase, type TestDatabase } from '@sluice/testing';
import { PAYMENTS_MIGRATIONS } from '../app';
import { idempotencyKeyOf } from './saga';
import { SagaStore } from './saga-store';

let db: TestDatabase;
let pool: Pool;
let store: SagaStore;

beforeAll(async () => {
  db = await createTestDatabase('saga_store');
  pool = createPool({ url: db.url, applicationName: 'saga-store-test', max: 3 });
  await applyMigrations(pool, PAYMENTS_MIGRATIONS);
  store = new SagaStore(pool);
});

afterAll(async () => {
  await pool?.end();
  await db?.drop();
});

const W = '01970000-0000-7000-8000-0000000000c1';
const WALLET = '01970000-0000-7000-8000-000000000001';

describe('saga store', () => {
  it('starts a saga once however often its WithdrawalRequested arrives', async () => {
    const saga = {
      withdrawalId: W,
      walletId: WALLET,
      amount: 300,
      currency: 'EUR',
      requestedAt: new Date(),
      idempotencyKey: idempotencyKeyOf(W),
      provider: 'psp',
    };
    expect(await withTransaction(pool, (c) => store.insert(c, [saga]))).toBe(1);
    expect(await withTransaction(pool, (c) => store.insert(c, [saga]))).toBe(0);
  });

  it('leases a due saga to one claimer at a time, and parks and resumes it', async () => {
    const [a, b] = await Promise.all([store.claim(5, 10_000, false), store.claim(5, 10_000, false)]);
    expect(a.length + b.length).toBe(1);
    expect(await store.claim(5, 10_000, false)).toEqual([]);
    const claimed = [...a, ...b][0]!;
    await store.release(claimed.withdrawalId, claimed.leaseToken);
    expect(await store.parkDue()).toBe(1);
    expect(await store.claim(5, 10_000, false)).toEqual([]);
    expect((await store.claim(1, 10_000, true)).map((s) => s.withdrawalId)).toEqual([W]); // the half-open trial
    await pool.query('UPDATE payment_sagas SET lease_until = NULL, parked_at = now()');
    expect(await store.unparkAll()).toBe(1);
    expect(await store.depth()).toEqual([{ state: 'requested', parked: false, n: 1 }]);
  });

  it('sends the finishing command again for a finished saga the wallet has not confirmed by its time, and not once it has', async () => {
    await pool.query(
      `UPDATE payment_sagas SET state = 'completed', provider_reference = 'po_1', wallet_state = 'submitted',
              next_attempt_at = now() - interval '1 second', lease_until = NULL WHERE withdrawal_id = $1`,
      [W],
    );
    expect(await store.resendUnconfirmed(60_000, 10)).toEqual([W]);
    const { rows } = await pool.query<{ type: string; body: string }>('SELECT type, body FROM payment_commands');
    expect(rows.map((r) => r.type)).toEqual(['CompleteWithdrawal']);
    expect(JSON.parse(rows[0]!.body)).toMatchObject({ withdrawalId: W, providerReference: 'po_1' });
    expect(await store.resendUnconfirmed(60_000, 10)).toEqual([]); // next check a minute later
    await pool.query(`UPDATE payment_sagas SET wallet_state = 'completed', next_attempt_at = now() - interval '1 second'`);
    expect(await store.resendUnconfirmed(60_000, 10)).toEqual([]);
  });
});
