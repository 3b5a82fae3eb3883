import type { PoolClient } from 'pg';
import type { withdrawals } from './tables';

/** Runs SQL on a pool or a client. */
export type Queryable = Pick<PoolClient, 'query'>;

export type WithdrawalStatus = (typeof withdrawals.$inferSelect)['status'];

/** A wallet's money as the command side holds it. */
export interface WalletBalance {
  readonly walletId: string;
  readonly balance: number;
  readonly held: number;
}

export interface MoneyTotals {
  readonly wallets: number;
  /** Σ balance over every wallet. */
  readonly balances: number;
  /** Σ held over every wallet. */
  readonly held: number;
  /** Σ amount over every deposit ever accepted. */
  readonly deposited: number;
}

/** Counts and sums over every wallet and deposit, read in one statement so they agree with each other. */
export async function moneyTotals(db: Queryable): Promise<MoneyTotals> {
  const { rows } = await db.query<{ wallets: string; balances: string; held: string; deposited: string }>(
    `SELECT (SELECT count(*) FROM wallets)::text AS wallets,
            (SELECT COALESCE(sum(balance), 0) FROM wallets)::text AS balances,
            (SELECT COALESCE(sum(held), 0) FROM wallets)::text AS held,
            (SELECT COALESCE(sum(amount), 0) FROM deposits)::text AS deposited`,
  );
  const r = rows[0]!;
  return { wallets: Number(r.wallets), balances: Number(r.balances), held: Number(r.held), deposited: Number(r.deposited) };
}

export interface WithdrawalTotal {
  readonly status: WithdrawalStatus;
  readonly count: number;
  readonly amount: number;
}

/** How many withdrawals are in each status and their amounts; statuses with none are absent. */
export async function withdrawalTotals(db: Queryable): Promise<WithdrawalTotal[]> {
  const { rows } = await db.query<{ status: WithdrawalStatus; n: string; amount: string }>(
    `SELECT status, count(*)::text AS n, COALESCE(sum(amount), 0)::text AS amount FROM withdrawals GROUP BY status ORDER BY status`,
  );
  return rows.map((r) => ({ status: r.status, count: Number(r.n), amount: Number(r.amount) }));
}

/** The statuses in which a withdrawal's amount is held on its wallet. */
export const PENDING_STATUSES: readonly WithdrawalStatus[] = ['requested', 'submitted'];

export interface UnaccountedHold {
  readonly walletId: string;
  readonly held: number;
  /** Σ amount of the wallet's pending withdrawals. */
  readonly pending: number;
}

/**
 * Wallets whose held amount is not the sum of their pending withdrawals, or is
 * negative or above the balance (at most `limit`).
 */
export async function unaccountedHolds(db: Queryable, limit: number): Promise<UnaccountedHold[]> {
  const { rows } = await db.query<{ id: string; held: string; pending: string }>(
    `SELECT w.id, w.held::text, COALESCE(p.pending, 0)::text AS pending
       FROM wallets w
       LEFT JOIN (SELECT wallet_id, sum(amount) AS pending FROM withdrawals
                   WHERE status = ANY($1::text[]) GROUP BY wallet_id) p ON p.wallet_id = w.id
      WHERE w.held <> COALESCE(p.pending, 0) OR w.held > w.balance OR w.held < 0
      LIMIT $2`,
    [[...PENDING_STATUSES], limit],
  );
  return rows.map((r) => ({ walletId: r.id, held: Number(r.held), pending: Number(r.pending) }));
}

export interface WithdrawalSummary {
  readonly id: string;
  readonly status: WithdrawalStatus;
  readonly amount: number;
}

/** Withdrawals that are not over yet (neither completed nor compensated), at most `limit`. */
export async function unsettledWithdrawals(db: Queryable, limit: number): Promise<WithdrawalSummary[]> {
  return summaries(db, `WHERE status NOT IN ('completed', 'compensated') LIMIT $1`, [limit]);
}

/** The withdrawals among `ids` (ids that are no withdrawal of this database are left out). */
export async function withdrawalsByIds(db: Queryable, ids: readonly string[]): Promise<WithdrawalSummary[]> {
  return summaries(db, 'WHERE id::text = ANY($1::text[])', [[...ids]]);
}

export async function withdrawalsInStatus(db: Queryable, status: WithdrawalStatus): Promise<WithdrawalSummary[]> {
  return summaries(db, 'WHERE status = $1', [status]);
}

async function summaries(db: Queryable, where: string, params: unknown[]): Promise<WithdrawalSummary[]> {
  const { rows } = await db.query<{ id: string; status: WithdrawalStatus; amount: string }>(
    `SELECT id, status, amount::text FROM withdrawals ${where}`,
    params,
  );
  return rows.map((r) => ({ id: r.id, status: r.status, amount: Number(r.amount) }));
}

/**
 * Wallets' balances in wallet id order, the `limit` after `afterWalletId`
 * (from the first when undefined): a keyset page, so walking every wallet
 * costs the same per page however many there are.
 */
export async function walletBalancesPage(
  db: Queryable,
  afterWalletId: string | undefined,
  limit: number,
): Promise<WalletBalance[]> {
  const { rows } = await db.query<{ id: string; balance: string; held: string }>(
    `SELECT id, balance::text, held::text FROM wallets WHERE $1::uuid IS NULL OR id > $1::uuid ORDER BY id LIMIT $2`,
    [afterWalletId ?? null, limit],
  );
  return rows.map((r) => ({ walletId: r.id, balance: Number(r.balance), held: Number(r.held) }));
}
