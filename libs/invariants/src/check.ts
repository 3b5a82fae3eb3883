import type { Pool } from 'pg';

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
  /** Also compare the wallet read model (wallet_balances) with the command side, wallet by wallet. */
  readModel?: boolean;
}

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

  const { rows: money } = await pool.query<{ wallets: string; balances: string; held: string; deposited: string }>(
    `SELECT (SELECT count(*) FROM wallets)::text AS wallets,
            (SELECT COALESCE(sum(balance), 0) FROM wallets)::text AS balances,
            (SELECT COALESCE(sum(held), 0) FROM wallets)::text AS held,
            (SELECT COALESCE(sum(amount), 0) FROM deposits)::text AS deposited`,
  );
  const { rows: byStatus } = await pool.query<{ status: string; n: string; amount: string }>(
    `SELECT status, count(*)::text AS n, COALESCE(sum(amount), 0)::text AS amount FROM withdrawals GROUP BY status`,
  );
  const status = (s: string) => byStatus.find((r) => r.status === s);
  const count = (...s: string[]) => s.reduce((n, x) => n + Number(status(x)?.n ?? 0), 0);
  const amount = (...s: string[]) => s.reduce((n, x) => n + Number(status(x)?.amount ?? 0), 0);
  const m = money[0]!;
  const deposited = Number(m.deposited);
  const balances = Number(m.balances);
  const held = Number(m.held);
  const completedAmount = amount('completed');

  if (deposited !== balances + completedAmount) {
    add({
      code: 'money_not_conserved',
      detail: `deposited ${deposited} ≠ balances ${balances} + completed withdrawals ${completedAmount} (difference ${deposited - balances - completedAmount})`,
    });
  }
  const { rows: holds } = await pool.query<{ id: string; held: string; pending: string }>(
    `SELECT w.id, w.held::text, COALESCE(p.pending, 0)::text AS pending
       FROM wallets w
       LEFT JOIN (SELECT wallet_id, sum(amount) AS pending FROM withdrawals
                   WHERE status IN ('requested', 'submitted') GROUP BY wallet_id) p ON p.wallet_id = w.id
      WHERE w.held <> COALESCE(p.pending, 0) OR w.held > w.balance OR w.held < 0
      LIMIT ${MAX_LISTED}`,
  );
  for (const h of holds) {
    add({
      code: 'hold_not_accounted',
      id: h.id,
      detail: `wallet ${h.id} holds ${h.held}; its pending withdrawals add up to ${h.pending}`,
    });
  }
  if (options.settled) {
    const { rows: open } = await pool.query<{ id: string; status: string }>(
      `SELECT id, status FROM withdrawals WHERE status NOT IN ('completed', 'compensated') LIMIT ${MAX_LISTED}`,
    );
    for (const w of open) add({ code: 'not_settled', id: w.id, detail: `withdrawal ${w.id} is ${w.status}` });
  }

  let payouts: number | null = null;
  let paidOut: number | null = null;
  if (options.payouts) {
    const references = [...new Set(options.payouts.map((p) => p.reference))];
    const { rows: known } = await pool.query<{ id: string; status: string; amount: string }>(
      'SELECT id, status, amount::text FROM withdrawals WHERE id::text = ANY($1::text[])',
      [references],
    );
    const withdrawals = new Map(known.map((w) => [w.id, w]));
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
    const { rows: completed } = await pool.query<{ id: string }>(`SELECT id FROM withdrawals WHERE status = 'completed'`);
    for (const c of completed) {
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
    const { rows: differ } = await pool.query<{ id: string; cmd: string; rm: string | null }>(
      `SELECT w.id, w.balance || '/' || w.held AS cmd, r.balance || '/' || r.held AS rm
         FROM wallets w LEFT JOIN wallet_balances r ON r.wallet_id = w.id
        WHERE r.wallet_id IS NULL OR r.balance <> w.balance OR r.held <> w.held
        LIMIT ${MAX_LISTED}`,
    );
    for (const d of differ) {
      add({
        code: 'read_model_mismatch',
        id: d.id,
        detail: `wallet ${d.id}: command side ${d.cmd}, read model ${d.rm ?? 'missing'} (balance/held)`,
      });
    }
  }

  return {
    ok: violations.length === 0,
    totals: {
      wallets: Number(m.wallets),
      deposited,
      balances,
      held,
      pendingWithdrawals: count('requested', 'submitted'),
      completedWithdrawals: count('completed'),
      completedAmount,
      compensatedWithdrawals: count('compensated'),
      payouts,
      paidOut,
    },
    violations,
  };
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
