import { join } from 'node:path';
import { drizzle } from 'drizzle-orm/node-postgres';
import { applyMigrations, createPool, type Pool } from '@sluice/db';
import { uuidv7 } from '@sluice/core';
import { checkInvariants } from '@sluice/invariants';
import { migrateVersionSchema, publishViews, quoteIdent } from '@sluice/projection-kit';
import { upsertWalletViews, walletBalancesPage, walletProjection, type WalletView } from '@sluice/projection-wallet';
import { createTestDatabase, repoRoot, type TestDatabase } from '@sluice/testing';
import { deposits, wallets, withdrawals } from '@sluice/wallet-store';

/**
 * The invariant check as `sluice invariants check --read-model` wires it: the command side's tables
 * read through @sluice/wallet-store, the wallet read model through its projection's reader.
 */
let db: TestDatabase;
let pool: Pool;
const SCHEMA = 'proj_wallet_v1';
const at = new Date('2025-06-01T10:00:00.000Z');
/** More wallets than one page of the read-model comparison (5,000), so the merge crosses pages. */
const WALLETS = 12_000;
const ids = Array.from({ length: WALLETS }, () => uuidv7());

beforeAll(async () => {
  db = await createTestDatabase('invariants');
  pool = createPool({ url: db.url, applicationName: 'invariants-int', max: 4 });
  await applyMigrations(pool, { folder: join(repoRoot(), 'services/command-api/migrations'), table: '__migrations_command_api' });
  await migrateVersionSchema(pool, walletProjection, SCHEMA);
  await publishViews(pool, walletProjection, SCHEMA);

  // Every wallet got a deposit of 100; the first has a pending withdrawal of 30 held.
  const orm = drizzle(pool);
  for (let i = 0; i < WALLETS; i += 2_000) {
    const slice = ids.slice(i, i + 2_000);
    await orm.insert(wallets).values(
      slice.map((id, j) => ({
        id,
        currency: 'EUR',
        balance: 100,
        held: i + j === 0 ? 30 : 0,
        version: 2,
        createdAt: at,
        updatedAt: at,
      })),
    );
    await orm
      .insert(deposits)
      .values(slice.map((walletId) => ({ id: uuidv7(), walletId, amount: 100, currency: 'EUR', createdAt: at })));
  }
  await orm
    .insert(withdrawals)
    .values({ id: uuidv7(), walletId: ids[0]!, amount: 30, currency: 'EUR', status: 'requested', createdAt: at, updatedAt: at });
  const views: WalletView[] = ids.map((walletId, i) => ({
    walletId,
    currency: 'EUR',
    owner: null,
    balance: 100,
    held: i === 0 ? 30 : 0,
    version: 2,
    openedAt: at,
    updatedAt: at,
    lastEventId: uuidv7(),
  }));
  await upsertWalletViews({ db: pool, schema: quoteIdent(SCHEMA), mode: 'live' }, views);
}, 60_000);

afterAll(async () => {
  await pool?.end();
  await db?.drop();
});

describe('the money invariants over the command side and the wallet read model', () => {
  it('hold when deposits equal balances, holds equal pending withdrawals and the read model agrees', async () => {
    const report = await checkInvariants({ pool, readModel: walletBalancesPage });
    expect(report.violations).toEqual([]);
    expect(report.totals).toMatchObject({
      wallets: WALLETS,
      deposited: 100 * WALLETS,
      balances: 100 * WALLETS,
      held: 30,
      pendingWithdrawals: 1,
      completedWithdrawals: 0,
    });
  });

  it('name each wallet whose read-model row is missing or differs, on any page of the walk', async () => {
    const missing = ids[7_321]!;
    const differs = ids[WALLETS - 1]!;
    await pool.query(`DELETE FROM ${SCHEMA}.wallet_balances WHERE wallet_id = $1`, [missing]);
    await pool.query(`UPDATE ${SCHEMA}.wallet_balances SET balance = 99 WHERE wallet_id = $1`, [differs]);

    const report = await checkInvariants({ pool, readModel: walletBalancesPage });

    expect(report.violations).toEqual([
      {
        code: 'read_model_mismatch',
        id: missing,
        detail: `wallet ${missing}: command side 100/0, read model missing (balance/held)`,
      },
      {
        code: 'read_model_mismatch',
        id: differs,
        detail: `wallet ${differs}: command side 100/0, read model 99/0 (balance/held)`,
      },
    ]);
    // Without a read model to compare, the command side alone is checked.
    expect((await checkInvariants({ pool })).ok).toBe(true);
  });

  it('report money not conserved and a hold no pending withdrawal accounts for', async () => {
    await pool.query('UPDATE wallets SET balance = 140, held = 40 WHERE id = $1', [ids[1]]);

    const report = await checkInvariants({ pool });

    expect(report.violations.map((v) => [v.code, v.id])).toEqual([
      ['money_not_conserved', undefined],
      ['hold_not_accounted', ids[1]],
    ]);
  });
});
