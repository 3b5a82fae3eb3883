import { Registry } from 'prom-client';
import { loadConfig } from '@sluice/config';
import { applyMigrations, createPool, purgeStatements, Purger, type Pool } from '@sluice/db';
import { createTestDatabase, type TestDatabase } from '@sluice/testing';
import { PAYMENTS_MIGRATIONS } from './app';
import { paymentsWorkerConfig } from './config';
import { paymentsPurges } from './lifecycle';

let db: TestDatabase;
let pool: Pool;
let purgePool: Pool;
const config = loadConfig(paymentsWorkerConfig, { SLUICE_ENV: 'development' });

beforeAll(async () => {
  db = await createTestDatabase('payments_retention');
  pool = createPool({ url: db.url, applicationName: 'payments-retention-test', max: 3 });
  purgePool = createPool({ url: db.url, applicationName: 'payments-retention-purge', max: 1 });
  await applyMigrations(pool, PAYMENTS_MIGRATIONS);
});

afterAll(async () => {
  await purgePool?.end();
  await pool?.end();
  await db?.drop();
});

beforeEach(async () => {
  await pool.query('TRUNCATE payment_sagas, psp_webhook_inbox');
});

async function purgeNow(): Promise<void> {
  const purger = new Purger({
    pool: purgePool,
    specs: paymentsPurges(config),
    settings: { intervalMs: 60_000, batchRows: 100, batchPauseMs: 0, lockTimeoutMs: 200, statementTimeoutMs: 2_000 },
    registry: new Registry(),
  });
  expect((await purger.runOnce()).map((r) => r.outcome)).toEqual(['done', 'done']);
}

let n = 0;
/** A saga in `state` (the wallet at `walletState`) that finished `finishedDays` ago (null: not finished). */
async function saga(state: string, walletState: string, finishedDays: number | null, extra = ''): Promise<string> {
  n += 1;
  const id = `01970000-0000-7000-8000-${String(n).padStart(12, '0')}`;
  await pool.query(
    `INSERT INTO payment_sagas (withdrawal_id, wallet_id, amount, currency, state, wallet_state, idempotency_key, provider,
                                next_attempt_at, requested_at, updated_at, finished_at ${extra ? ', review_reason, review_at' : ''})
     VALUES ($1::uuid, $1::uuid, 100, 'EUR', $2, $3, $1::text, 'psp', now(), now() - interval '40 days', now(),
             CASE WHEN $4::int IS NULL THEN NULL ELSE now() - make_interval(days => $4::int) END ${extra})`,
    [id, state, walletState, finishedDays],
  );
  return id;
}

async function sagasLeft(): Promise<string[]> {
  const { rows } = await pool.query<{ withdrawal_id: string }>('SELECT withdrawal_id FROM payment_sagas ORDER BY withdrawal_id');
  return rows.map((r) => r.withdrawal_id);
}

describe('payments worker retention', () => {
  it('deletes sagas finished on both sides more than 30 days ago, and keeps the rest', async () => {
    await saga('completed', 'completed', 31); // paid and confirmed long ago: goes
    await saga('failed', 'compensated', 45); // failed and released long ago: goes
    const recent = await saga('completed', 'completed', 29);
    const unconfirmed = await saga('completed', 'submitted', 60); // the wallet has not shown the end yet
    const uncompensated = await saga('failed', 'requested', 60);
    const running = await saga('submitted', 'submitted', null);
    const inReview = await saga('needs_review', 'submitted', null, ", 'ambiguous', now() - interval '40 days'");

    await purgeNow();

    expect(await sagasLeft()).toEqual([recent, unconfirmed, uncompensated, running, inReview].sort());
  });

  it('deletes a review resolved and finished more than 30 days ago', async () => {
    const resolved = await saga('completed', 'completed', 31);
    await pool.query(
      `UPDATE payment_sagas SET review_reason = 'ambiguous', resolution = 'paid', resolved_by = 'ops', resolved_at = finished_at
        WHERE withdrawal_id = $1`,
      [resolved],
    );
    await purgeNow();
    expect(await sagasLeft()).toEqual([]);
  });

  it('deletes processed webhooks received more than 14 days ago and keeps unprocessed ones whatever their age', async () => {
    await pool.query(
      `INSERT INTO psp_webhook_inbox (event_id, type, body, received_at, processed_at, outcome) VALUES
        ('old-processed', 'payout.paid', '{}', now() - interval '15 days', now() - interval '15 days', 'applied'),
        ('young-processed', 'payout.paid', '{}', now() - interval '13 days', now() - interval '13 days', 'applied'),
        ('old-unprocessed', 'payout.paid', '{}', now() - interval '20 days', NULL, NULL)`,
    );
    await purgeNow();
    const { rows } = await pool.query<{ event_id: string }>('SELECT event_id FROM psp_webhook_inbox ORDER BY event_id');
    expect(rows.map((r) => r.event_id)).toEqual(['old-unprocessed', 'young-processed']);
  });

  it('finds the expired sagas and webhooks through the partial indexes of the retention migration', async () => {
    // Many rows the purge must not scan: running sagas and unprocessed webhooks.
    await pool.query(
      `INSERT INTO payment_sagas (withdrawal_id, wallet_id, amount, currency, state, idempotency_key, provider, next_attempt_at, requested_at, updated_at)
       SELECT gen_random_uuid(), gen_random_uuid(), 100, 'EUR', 'submitted', 'k', 'psp', now(), now(), now() FROM generate_series(1, 5000)`,
    );
    await pool.query(
      `INSERT INTO psp_webhook_inbox (event_id, type, body) SELECT 'e' || g, 'payout.paid', '{}' FROM generate_series(1, 5000) g`,
    );
    await pool.query('ANALYZE payment_sagas, psp_webhook_inbox');
    const plans: string[] = [];
    for (const spec of paymentsPurges(config)) {
      const sql = purgeStatements(spec).deleteBatch.replace('$1', '1000').replace('$2', '100');
      const { rows } = await pool.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${sql}`);
      plans.push(rows.map((r) => r['QUERY PLAN']).join('\n'));
    }
    expect(plans[0]).toContain('payment_sagas_finished_idx');
    expect(plans[1]).toContain('psp_webhook_inbox_processed_idx');
  });
});

describe('payments worker retention configuration', () => {
  it('refuses a webhook inbox window not longer than the provider redelivers', () => {
    expect(() =>
      loadConfig(paymentsWorkerConfig, { SLUICE_ENV: 'development', PSP_WEBHOOK_INBOX_RETENTION_HOURS: '72' }),
    ).toThrow(/PSP_WEBHOOK_INBOX_RETENTION_HOURS must exceed PSP_WEBHOOK_REDELIVERY_HOURS/);
  });

  it('refuses a saga window shorter than the look-up-first age of a replayed withdrawal', () => {
    expect(() =>
      loadConfig(paymentsWorkerConfig, {
        SLUICE_ENV: 'development',
        PAYMENT_SAGA_RETENTION_HOURS: '24',
        PAYOUT_LOOK_UP_FIRST_AFTER_MS: String(25 * 3_600_000),
      }),
    ).toThrow(/PAYMENT_SAGA_RETENTION_HOURS must exceed PAYOUT_LOOK_UP_FIRST_AFTER_MS/);
  });
});
