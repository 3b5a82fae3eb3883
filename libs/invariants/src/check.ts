import type { Pool } from 'pg';
import {
  moneyTotals,
  PENDING_STATUSES,
  unaccountedHolds,
  unsettledWithdrawals,
  walletBalancesPage,
  withdrawalsByIds,
  withdrawalsInStatus,
  withdrawalTotals,
  type WalletBalance,
  type WithdrawalStatus,
} from '@sluice/wallet-store';

export type ViolationCode =
  | 'money_not_conserved'
  | 'hold_not_accounted'
  | 'paid_twice'
  | 'completed_without_payout'
  | 'paid_but_released'
  | 'paid_not_completed'
  | 'not_settled'
  | 'read_model_mismatch';

export interface Violation {
  code: ViolationCode;
  detail: string;
  /** The withdrawal or wallet it is about, when one. */
  id?: string;
}

/** One payout as the provider reports it (GET /admin/payouts). */
export interface ExecutedPayout {
  reference: string;
  amount: number;
  payoutId?: string;
}

export interface InvariantOptions {
  /** The command side's database (wallets, deposits, withdrawals). */
  pool: Pool;
  /** Every payout the provider executed; without it the provider-side checks are skipped. */
  payouts?: readonly ExecutedPayout[];
  /** Also require every withdrawal to be over: completed, or failed and compensated. */
  settled?: boolean;
  /**
   * Also compare the wallet read model with the command side, wallet by wallet: its balances in
   * wallet id order, a page at a time (the wallet projection's `walletBalancesPage`). Passed in
   * rather than imported: the read model's tables belong to its projection, which a library may
   * not depend on.
   */
  readModel?: ReadModelBalances;
}

/** The `limit` wallets after `afterWalletId` (from the first when undefined), in wallet id order. */
export type ReadModelBalances = (db: Pool, afterWalletId: string | undefined, limit: number) => Promise<readonly WalletBalance[]>;

export interface InvariantReport {
  ok: boolean;
  totals: {
    wallets: number;
    deposited: number;
    balances: number;
    held: number;
    pendingWithdrawals: number;
    completedWithdrawals: number;
    completedAmount: number;
    compensatedWithdrawals: number;
    payouts: number | null;
    paidOut: number | null;
  };
  violations: Violation[];
}

const MAX_LISTED = 20;

/**
 * The money invariants of the wallet and its payouts, checked against the
 * real state (the command side's tables and the provider's own books):
 * - money is conserved: everything deposited is either still in the wallets
 *   or was paid out by a completed withdrawal (Σ deposits = Σ balances +
 *   Σ completed withdrawals), and the provider paid exactly the completed
 *   withdrawals (Σ payouts = Σ completed);
 * - holds are accounted: each wallet's held amount is the sum of its
 *   pending (requested or submitted) withdrawals;
 * - no withdrawal was paid twice; none was paid and released; every
 *   completed one was paid;
 * - with `settled`, every withdrawal is over (completed, or compensated)
 *   and every payout belongs to a completed withdrawal.
 * Payouts whose reference is no withdrawal of this database (another
 * platform sharing the provider) are left out.
 */
export async function checkInvariants(options: InvariantOptions): Promise<InvariantReport> {
  const { pool } = options;
  const violations: Violation[] = [];
  const add = (v: Violation) => {
    if (violations.filter((x) => x.code === v.code).length < MAX_LISTED) violations.push(v);
  };

  const m = await moneyTotals(pool);
  const byStatus = await withdrawalTotals(pool);
  const status = (s: WithdrawalStatus) => byStatus.find((r) => r.status === s);
  const count = (...s: readonly WithdrawalStatus[]) => s.reduce((n, x) => n + (status(x)?.count ?? 0), 0);
  const amount = (...s: readonly WithdrawalStatus[]) => s.reduce((n, x) => n + (status(x)?.amount ?? 0), 0);
  const { deposited, balances, held } = m;
  const completedAmount = amount('completed');

  if (deposited !== balances + completedAmount) {
    add({
      code: 'money_not_conserved',
      detail: `deposited ${deposited} ≠ balances ${balances} + completed withdrawals ${completedAmount} (difference ${deposited - balances - completedAmount})`,
    });
  }
  for (const h of await unaccountedHolds(pool, MAX_LISTED)) {
    add({
      code: 'hold_not_accounted',
      id: h.walletId,
      detail: `wallet ${h.walletId} holds ${h.held}; its pending withdrawals add up to ${h.pending}`,
    });
  }
  if (options.settled) {
    for (const w of await unsettledWithdrawals(pool, MAX_LISTED)) {
      add({ code: 'not_settled', id: w.id, detail: `withdrawal ${w.id} is ${w.status}` });
    }
  }

  let payouts: number | null = null;
  let paidOut: number | null = null;
  if (options.payouts) {
    const references = [...new Set(options.payouts.map((p) => p.reference))];
    const withdrawals = new Map((await withdrawalsByIds(pool, references)).map((w) => [w.id, w]));
    const mine = options.payouts.filter((p) => withdrawals.has(p.reference));
    payouts = mine.length;
    paidOut = mine.reduce((n, p) => n + p.amount, 0);
    const perReference = new Map<string, number>();
    for (const p of mine) perReference.set(p.reference, (perReference.get(p.reference) ?? 0) + 1);
    for (const [ref, n] of perReference) {
      const w = withdrawals.get(ref)!;
      if (n > 1) add({ code: 'paid_twice', id: ref, detail: `withdrawal ${ref} was paid out ${n} times` });
      if (w.status === 'compensated' || w.status === 'failed') {
        add({
          code: 'paid_but_released',
          id: ref,
          detail: `withdrawal ${ref} was paid out, yet it is ${w.status} (its hold released)`,
        });
      } else if (w.status !== 'completed' && options.settled) {
        add({ code: 'paid_not_completed', id: ref, detail: `withdrawal ${ref} was paid out but is still ${w.status}` });
      }
    }
    for (const c of await withdrawalsInStatus(pool, 'completed')) {
      if (!perReference.has(c.id))
        add({ code: 'completed_without_payout', id: c.id, detail: `withdrawal ${c.id} is completed but was never paid out` });
    }
    const paidForCompleted = mine
      .filter((p) => withdrawals.get(p.reference)?.status === 'completed')
      .reduce((n, p) => n + p.amount, 0);
    if (
      paidForCompleted !== completedAmount &&
      violations.every((v) => v.code !== 'completed_without_payout' && v.code !== 'paid_twice')
    ) {
      add({
        code: 'money_not_conserved',
        detail: `the provider paid ${paidForCompleted} for completed withdrawals of ${completedAmount}`,
      });
    }
  }

  if (options.readModel) {
    for (const d of await readModelMismatches(pool, options.readModel, MAX_LISTED)) {
      const rm = d.readModel ? `${d.readModel.balance}/${d.readModel.held}` : 'missing';
      add({
        code: 'read_model_mismatch',
        id: d.command.walletId,
        detail: `wallet ${d.command.walletId}: command side ${d.command.balance}/${d.command.held}, read model ${rm} (balance/held)`,
      });
    }
  }

  return {
    ok: violations.length === 0,
    totals: {
      wallets: m.wallets,
      deposited,
      balances,
      held,
      pendingWithdrawals: count(...PENDING_STATUSES),
      completedWithdrawals: count('completed'),
      completedAmount,
      compensatedWithdrawals: count('compensated'),
      payouts,
      paidOut,
    },
    violations,
  };
}

const PAGE = 5_000;

/**
 * The command side's wallets whose read-model row is missing or differs in balance or held (at
 * most `limit`): both sides walked in wallet id order, a page at a time, and merged.
 */
async function readModelMismatches(
  pool: Pool,
  readModel: ReadModelBalances,
  limit: number,
): Promise<{ command: WalletBalance; readModel: WalletBalance | undefined }[]> {
  const found: { command: WalletBalance; readModel: WalletBalance | undefined }[] = [];
  let rm: readonly WalletBalance[] = [];
  let rmAt = 0;
  let rmDone = false;
  let rmAfter: string | undefined;
  let after: string | undefined;
  for (;;) {
    const page = await walletBalancesPage(pool, after, PAGE);
    for (const w of page) {
      // Advance the read model to the first row at or past this wallet (both sides in uuid order).
      for (;;) {
        if (rmAt === rm.length && !rmDone) {
          rm = await readModel(pool, rmAfter, PAGE);
          rmAt = 0;
          rmDone = rm.length < PAGE;
          rmAfter = rm.at(-1)?.walletId ?? rmAfter;
        }
        const r = rm[rmAt];
        if (!r || r.walletId >= w.walletId) break;
        rmAt++;
      }
      const r = rm[rmAt]?.walletId === w.walletId ? rm[rmAt] : undefined;
      if (!r || r.balance !== w.balance || r.held !== w.held) {
        found.push({ command: w, readModel: r });
        if (found.length >= limit) return found;
      }
    }
    if (page.length < PAGE) return found;
    after = page.at(-1)!.walletId;
  }
}

/** Reads every executed payout from the provider's admin API (the PSP simulator's GET /admin/payouts). */
export async function fetchExecutedPayouts(pspUrl: string, timeoutMs = 10_000): Promise<ExecutedPayout[]> {
  const res = await fetch(`${pspUrl.replace(/\/$/, '')}/admin/payouts`, { signal: AbortSignal.timeout(timeoutMs) });
  if (!res.ok) throw new Error(`GET ${pspUrl}/admin/payouts answered ${res.status}`);
  const body: unknown = await res.json();
  if (!Array.isArray(body)) throw new Error('GET /admin/payouts did not answer an array');
  return body.map((p: { reference?: unknown; amount?: unknown; payoutId?: unknown }) => {
    if (typeof p.reference !== 'string' || typeof p.amount !== 'number') throw new Error(`not a payout: ${JSON.stringify(p)}`);
    return { reference: p.reference, amount: p.amount, ...(typeof p.payoutId === 'string' && { payoutId: p.payoutId }) };
  });
}
