import type { WalletEvent } from '@sluice/schemas';
import { assertNever } from '@sluice/wallet-domain';
import type { WalletBalanceRow } from './table';

/** A wallet as the fold sees it: the row minus what the database computes or stamps itself. */
export type WalletView = Omit<WalletBalanceRow, 'projectedAt' | 'available'>;

/**
 * Why an event was not folded in although it is not a duplicate. Each of these
 * means the stream and the read model disagree; none is retried, since the
 * same event against the same row fails the same way.
 */
export type WalletFoldRejection = 'invalid_version' | 'version_gap' | 'currency_mismatch' | 'balance_mismatch';

export type WalletFoldResult =
  | { readonly kind: 'applied'; readonly row: WalletView }
  | { readonly kind: 'duplicate'; readonly currentVersion: number }
  | { readonly kind: 'rejected'; readonly reason: WalletFoldRejection; readonly detail: string };

/**
 * Folds one event into the wallet's row (undefined before WalletOpened).
 *
 * Version guard, per wallet: the event's `version` is the wallet's version
 * after it, so the next event to fold is always `current + 1`.
 * - version <= current: a redelivery (the relay repeats records after a
 *   crash); it changes nothing.
 * - WalletOpened only at version 1, onto no row; any later event only at
 *   exactly current + 1, onto an existing row.
 * - Anything else is a gap: an earlier event of this wallet never arrived, so
 *   applying this one would show a state that skipped history. It is rejected
 *   (the caller counts and logs it) and the row stays at its last good
 *   version. Every later event of that wallet is then a gap too, so the read
 *   model shows a stale wallet rather than a wrong one, the rejection metric
 *   keeps rising until someone looks, and a rebuild from the topic repairs it.
 *   Halting the whole partition instead would stall every other wallet on it.
 */
export function foldWallet(row: WalletView | undefined, event: WalletEvent): WalletFoldResult {
  const { version } = event.data;
  const current = row?.version ?? 0;
  if (!Number.isInteger(version) || version < 1) {
    return rejected('invalid_version', `${event.type} carries version ${version}; versions start at 1`);
  }
  if (event.type === 'WalletOpened' && version !== 1) {
    return rejected('invalid_version', `WalletOpened carries version ${version}; a wallet opens at version 1`);
  }
  if (version <= current) return { kind: 'duplicate', currentVersion: current };
  if (version !== current + 1) {
    return rejected('version_gap', `${event.type} is version ${version} but the read model is at ${current}`);
  }
  const updatedAt = new Date(event.data.occurredAt);
  switch (event.type) {
    case 'WalletOpened': {
      const { walletId, currency, eventId } = event.data;
      const owner = event.data.owner ?? null;
      return {
        kind: 'applied',
        row: { walletId, currency, owner, balance: 0, held: 0, version, openedAt: updatedAt, updatedAt, lastEventId: eventId },
      };
    }
    case 'FundsDeposited':
      return moveFunds(row, event, { balance: event.data.amount, held: 0 });
    case 'WithdrawalRequested':
      // The amount is held: available funds go down, owned funds do not (yet).
      return moveFunds(row, event, { balance: 0, held: event.data.amount });
    case 'WithdrawalCompleted':
      return moveFunds(row, event, { balance: -event.data.amount, held: -event.data.amount });
    case 'WithdrawalCompensated':
      return moveFunds(row, event, { balance: 0, held: -event.data.amount });
    case 'WithdrawalSubmitted':
    case 'WithdrawalFailed':
      // Status only: the money moves with Completed or Compensated.
      if (!row) return rejected('version_gap', `${event.type} version ${version} for a wallet that was never opened`);
      return { kind: 'applied', row: { ...row, version, updatedAt, lastEventId: event.data.eventId } };
    default:
      return assertNever(event);
  }
}

/**
 * Folds a partition's events, in order, over the rows they touch. Returns one
 * result per event and the final row of every wallet that changed.
 */
export function foldWallets(
  rows: ReadonlyMap<string, WalletView>,
  events: readonly WalletEvent[],
): { results: WalletFoldResult[]; changed: WalletView[] } {
  const working = new Map(rows);
  const changed = new Map<string, WalletView>();
  const results = events.map((event) => {
    const result = foldWallet(working.get(event.data.walletId), event);
    if (result.kind === 'applied') {
      working.set(result.row.walletId, result.row);
      changed.set(result.row.walletId, result.row);
    }
    return result;
  });
  return { results, changed: [...changed.values()] };
}

type MoneyEvent = Extract<WalletEvent, { data: { amount: number; currency: string; balance: number } }>;

/**
 * Applies an event that moves money, checking it against the row: the event
 * carries the balance (and held amount) the command side computed, and they
 * must follow from the row plus the movement, or the stream and the read
 * model disagree.
 */
function moveFunds(row: WalletView | undefined, event: MoneyEvent, delta: { balance: number; held: number }): WalletFoldResult {
  const { version, occurredAt, eventId, currency, balance } = event.data;
  // Only WalletOpened starts a wallet: anything else claiming version 1 onto no row is a gap too.
  if (!row) return rejected('version_gap', `${event.type} version ${version} for a wallet that was never opened`);
  if (currency !== row.currency) {
    return rejected('currency_mismatch', `${event.type} in ${currency} for a wallet in ${row.currency}`);
  }
  const held = 'held' in event.data ? event.data.held : row.held;
  if (row.balance + delta.balance !== balance || row.held + delta.held !== held) {
    return rejected(
      'balance_mismatch',
      `${event.type} says balance ${balance} / held ${held}; the read model has ${row.balance} / ${row.held} and the event moves ${delta.balance} / ${delta.held}`,
    );
  }
  return { kind: 'applied', row: { ...row, balance, held, version, updatedAt: new Date(occurredAt), lastEventId: eventId } };
}

function rejected(reason: WalletFoldRejection, detail: string): WalletFoldResult {
  return { kind: 'rejected', reason, detail };
}
