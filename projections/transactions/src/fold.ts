import type { WalletEvent } from '@sluice/schemas';
import { assertNever } from '@sluice/wallet-domain';

/** What an item of the history is, named for people reading a statement. */
export type TransactionType = 'deposit' | 'withdrawal_hold' | 'withdrawal' | 'withdrawal_release';

/** One line of a wallet's history: an event that moved money, as the fold derives it. */
export interface TransactionItem {
  readonly walletId: string;
  readonly version: number;
  readonly type: TransactionType;
  /** Minor units, > 0. */
  readonly amount: number;
  readonly currency: string;
  /** Owned funds after the item. */
  readonly balance: number;
  /** The deposit or withdrawal the item belongs to. */
  readonly reference: string;
  readonly eventId: string;
  readonly occurredAt: Date;
}

export type TransactionFoldRejection = 'invalid_amount';

export type TransactionFoldResult =
  | { readonly kind: 'item'; readonly item: TransactionItem }
  /** An event that moves no money (opened, submitted, failed): no line in the history. */
  | { readonly kind: 'none' }
  | { readonly kind: 'rejected'; readonly reason: TransactionFoldRejection; readonly detail: string };

/**
 * Folds one event into at most one history item. The history needs no state:
 * each item is what its event says, so the fold is a pure function of the
 * event and a history built from any point in the stream is a true statement
 * from that point on. Ordering and exactly-once come from the engine's version
 * guard and the item's key (wallet, version).
 *
 * - FundsDeposited → deposit (+amount to the balance)
 * - WithdrawalRequested → withdrawal_hold (amount held; available funds go down)
 * - WithdrawalCompleted → withdrawal (amount leaves the balance and the hold)
 * - WithdrawalCompensated → withdrawal_release (the hold is released)
 */
export function foldTransaction(event: WalletEvent): TransactionFoldResult {
  switch (event.type) {
    case 'FundsDeposited':
      return item(event.data, 'deposit', event.data.depositId);
    case 'WithdrawalRequested':
      return item(event.data, 'withdrawal_hold', event.data.withdrawalId);
    case 'WithdrawalCompleted':
      return item(event.data, 'withdrawal', event.data.withdrawalId);
    case 'WithdrawalCompensated':
      return item(event.data, 'withdrawal_release', event.data.withdrawalId);
    case 'WalletOpened':
    case 'WithdrawalSubmitted':
    case 'WithdrawalFailed':
      return { kind: 'none' };
    default:
      return assertNever(event);
  }
}

interface MoneyData {
  walletId: string;
  version: number;
  amount: number;
  currency: string;
  balance: number;
  eventId: string;
  occurredAt: number;
}

function item(data: MoneyData, type: TransactionType, reference: string): TransactionFoldResult {
  if (!Number.isSafeInteger(data.amount) || data.amount <= 0) {
    return { kind: 'rejected', reason: 'invalid_amount', detail: `${type} of ${data.amount}: amounts are positive minor units` };
  }
  return {
    kind: 'item',
    item: {
      walletId: data.walletId,
      version: data.version,
      type,
      amount: data.amount,
      currency: data.currency,
      balance: data.balance,
      reference,
      eventId: data.eventId,
      occurredAt: new Date(data.occurredAt),
    },
  };
}
