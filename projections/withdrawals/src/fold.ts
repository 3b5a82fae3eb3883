import type { WalletEvent } from '@sluice/schemas';
import { assertNever } from '@sluice/wallet-domain';
import type { WithdrawalStatusRow } from './table';

/**
 * A withdrawal as clients see it: `processing` from the request until the
 * provider answers for good, then `completed`, or `failed` and, once the hold
 * is released, `compensated`.
 */
export type WithdrawalState = 'processing' | 'completed' | 'failed' | 'compensated';

/** The row minus what the database stamps itself. */
export type WithdrawalView = Omit<WithdrawalStatusRow, 'projectedAt' | 'state'> & { state: WithdrawalState };

export type WithdrawalEvent = Extract<
  WalletEvent,
  { type: 'WithdrawalRequested' | 'WithdrawalSubmitted' | 'WithdrawalCompleted' | 'WithdrawalFailed' | 'WithdrawalCompensated' }
>;

/**
 * Why an event was not folded in. Each means the stream contradicts the
 * withdrawal's row; none is retried, since the same event against the same
 * row fails the same way.
 */
export type WithdrawalFoldRejection = 'unknown_withdrawal' | 'withdrawal_exists' | 'invalid_transition' | 'invalid_amount';

export type WithdrawalFoldResult =
  | { readonly kind: 'applied'; readonly row: WithdrawalView }
  | { readonly kind: 'rejected'; readonly reason: WithdrawalFoldRejection; readonly detail: string };

/** Which state each event moves a withdrawal to, and from which states it may. */
const TRANSITIONS: Record<
  Exclude<WithdrawalEvent['type'], 'WithdrawalRequested'>,
  { to: WithdrawalState; from: WithdrawalState[] }
> = {
  WithdrawalSubmitted: { to: 'processing', from: ['processing'] },
  WithdrawalCompleted: { to: 'completed', from: ['processing'] },
  WithdrawalFailed: { to: 'failed', from: ['processing'] },
  WithdrawalCompensated: { to: 'compensated', from: ['failed'] },
};

/**
 * Folds one withdrawal event into its row (undefined before WithdrawalRequested).
 * Ordering per wallet is the engine's version guard; this checks that the
 * event makes sense for the withdrawal it names.
 */
export function foldWithdrawal(row: WithdrawalView | undefined, event: WithdrawalEvent): WithdrawalFoldResult {
  const { withdrawalId, version, eventId, occurredAt } = event.data;
  const updatedAt = new Date(occurredAt);
  if (event.type === 'WithdrawalRequested') {
    if (row) return rejected('withdrawal_exists', `withdrawal ${withdrawalId} was already requested at version ${row.version}`);
    const { walletId, amount, currency } = event.data;
    if (!Number.isSafeInteger(amount) || amount <= 0) {
      return rejected('invalid_amount', `withdrawal ${withdrawalId} of ${amount}: amounts are positive minor units`);
    }
    return {
      kind: 'applied',
      row: {
        withdrawalId,
        walletId,
        amount,
        currency,
        state: 'processing',
        provider: null,
        providerReference: null,
        failureReason: null,
        failureDetail: null,
        requestedAt: updatedAt,
        updatedAt,
        version,
        lastEventId: eventId,
      },
    };
  }
  if (!row) return rejected('unknown_withdrawal', `${event.type} for withdrawal ${withdrawalId}, which was never requested`);
  const transition = TRANSITIONS[event.type];
  if (!transition.from.includes(row.state)) {
    return rejected('invalid_transition', `${event.type} for withdrawal ${withdrawalId} in state ${row.state}`);
  }
  const next: WithdrawalView = { ...row, state: transition.to, updatedAt, version, lastEventId: eventId };
  switch (event.type) {
    case 'WithdrawalSubmitted':
      return applied({
        ...next,
        provider: event.data.provider,
        providerReference: event.data.providerReference ?? row.providerReference,
      });
    case 'WithdrawalCompleted':
      return applied({ ...next, providerReference: event.data.providerReference ?? row.providerReference });
    case 'WithdrawalFailed':
      return applied({ ...next, failureReason: event.data.reason, failureDetail: event.data.detail });
    case 'WithdrawalCompensated':
      return applied(next);
    default:
      return assertNever(event);
  }
}

/**
 * Folds a partition's withdrawal events in order over the rows they touch.
 * Returns one result per event and the final row of every withdrawal that changed.
 */
export function foldWithdrawals(
  rows: ReadonlyMap<string, WithdrawalView>,
  events: readonly WithdrawalEvent[],
): { results: WithdrawalFoldResult[]; changed: WithdrawalView[] } {
  const working = new Map(rows);
  const changed = new Map<string, WithdrawalView>();
  const results = events.map((event) => {
    const result = foldWithdrawal(working.get(event.data.withdrawalId), event);
    if (result.kind === 'applied') {
      working.set(result.row.withdrawalId, result.row);
      changed.set(result.row.withdrawalId, result.row);
    }
    return result;
  });
  return { results, changed: [...changed.values()] };
}

function applied(row: WithdrawalView): WithdrawalFoldResult {
  return { kind: 'applied', row };
}

function rejected(reason: WithdrawalFoldRejection, detail: string): WithdrawalFoldResult {
  return { kind: 'rejected', reason, detail };
}
