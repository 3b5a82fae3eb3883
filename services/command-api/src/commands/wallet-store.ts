import { and, eq, inArray } from 'drizzle-orm';
import type { Db } from '../db/db';
import type { WalletEvent } from '@sluice/schemas';
import { assertNever, evolve, initialWalletState, type WalletState } from '@sluice/wallet-domain';
import { deposits, wallets, withdrawals } from '../db/schema';

const WITHDRAWAL_STATUS = {
  WithdrawalSubmitted: 'submitted',
  WithdrawalCompleted: 'completed',
  WithdrawalFailed: 'failed',
  WithdrawalCompensated: 'compensated',
} as const;

export class VersionConflict extends Error {
  constructor(readonly walletId: string) {
    super(`wallet ${walletId} changed concurrently`);
  }
}

/**
 * Loads the wallet with the withdrawals the command touches (none for a
 * deposit, so the common command costs one read).
 */
export async function loadWallet(db: Db, walletId: string, withdrawalIds: readonly string[] = []): Promise<WalletState> {
  const [row] = await db.select().from(wallets).where(eq(wallets.id, walletId));
  if (!row) return initialWalletState;
  const pending =
    withdrawalIds.length === 0
      ? []
      : await db
          .select()
          .from(withdrawals)
          .where(and(eq(withdrawals.walletId, walletId), inArray(withdrawals.id, [...withdrawalIds])));
  return {
    status: 'open',
    walletId: row.id,
    currency: row.currency,
    balance: row.balance,
    held: row.held,
    version: row.version,
    withdrawals: new Map(pending.map((w) => [w.id, { amount: w.amount, status: w.status }])),
  };
}

/**
 * Writes the state the events lead to. The update is conditioned on the
 * version that was read; a concurrent writer makes it miss and the command is
 * retried on fresh state.
 */
export async function saveWallet(db: Db, before: WalletState, events: readonly WalletEvent[]): Promise<WalletState> {
  const after = events.reduce(evolve, before);
  if (after.status !== 'open') return after;
  const now = new Date(events.at(-1)?.data.occurredAt ?? Date.now());
  if (before.status === 'absent') {
    const inserted = await db
      .insert(wallets)
      .values({
        id: after.walletId,
        currency: after.currency,
        balance: after.balance,
        version: after.version,
        createdAt: now,
        updatedAt: now,
      })
      .onConflictDoNothing()
      .returning({ id: wallets.id });
    if (inserted.length === 0) throw new VersionConflict(after.walletId);
  } else {
    const updated = await db
      .update(wallets)
      .set({ balance: after.balance, held: after.held, version: after.version, updatedAt: now })
      .where(and(eq(wallets.id, after.walletId), eq(wallets.version, before.version)))
      .returning({ id: wallets.id });
    if (updated.length === 0) throw new VersionConflict(after.walletId);
  }
  for (const event of events) {
    switch (event.type) {
      case 'WalletOpened':
        break;
      case 'FundsDeposited':
        await db.insert(deposits).values({
          id: event.data.depositId,
          walletId: event.data.walletId,
          amount: event.data.amount,
          currency: event.data.currency,
          createdAt: new Date(event.data.occurredAt),
        });
        break;
      case 'WithdrawalRequested':
        await db.insert(withdrawals).values({
          id: event.data.withdrawalId,
          walletId: event.data.walletId,
          amount: event.data.amount,
          currency: event.data.currency,
          status: 'requested',
          createdAt: new Date(event.data.occurredAt),
          updatedAt: new Date(event.data.occurredAt),
        });
        break;
      case 'WithdrawalSubmitted':
      case 'WithdrawalCompleted':
      case 'WithdrawalFailed':
      case 'WithdrawalCompensated':
        await db
          .update(withdrawals)
          .set({ status: WITHDRAWAL_STATUS[event.type], updatedAt: new Date(event.data.occurredAt) })
          .where(eq(withdrawals.id, event.data.withdrawalId));
        break;
      default:
        assertNever(event);
    }
  }
  return after;
}
