import { join } from 'node:path';
import type { AggregatePosition, DecodedEventLike, ProjectionDefinition, ProjectionOutcome } from '@sluice/projection-kit';
import { walletCatalog } from '@sluice/schemas';
import { foldWithdrawals, type WithdrawalEvent } from './fold';
import { loadWithdrawalViews, upsertWithdrawalViews } from './store';

const FOLDED = [
  'WithdrawalRequested',
  'WithdrawalSubmitted',
  'WithdrawalCompleted',
  'WithdrawalFailed',
  'WithdrawalCompensated',
] as const satisfies readonly WithdrawalEvent['type'][];
const FOLDED_SET: ReadonlySet<string> = new Set(FOLDED);

function position(event: DecodedEventLike): AggregatePosition | undefined {
  const data = event.data as { walletId?: unknown; version?: unknown } | null;
  if (!data || typeof data.walletId !== 'string' || typeof data.version !== 'number') return undefined;
  return { id: data.walletId, version: data.version };
}

/** Where each withdrawal stands: processing, completed, failed or compensated. */
export const withdrawalsProjection: ProjectionDefinition<WithdrawalEvent> = {
  name: 'withdrawals',
  description: 'status of each withdrawal (processing, completed, failed, compensated)',
  aggregateType: walletCatalog.aggregateType,
  eventTypes: FOLDED,
  tables: ['withdrawal_status'],
  migrations: { folder: join(__dirname, '../migrations') },
  // A withdrawal's row starts with its request: events of older withdrawals could not be folded.
  partialHistory: false,
  position,
  accept: (event) => (FOLDED_SET.has(event.type) ? (event as WithdrawalEvent) : undefined),
  apply: async (ctx, events) => {
    const rows = await loadWithdrawalViews(
      ctx,
      events.map((e) => e.data.withdrawalId),
    );
    const { results, changed } = foldWithdrawals(rows, events);
    await upsertWithdrawalViews(ctx, changed);
    return results.map(
      (r, i): ProjectionOutcome =>
        r.kind === 'applied'
          ? { status: 'applied', key: events[i]!.data.withdrawalId }
          : { status: 'rejected', reason: r.reason, detail: r.detail },
    );
  },
};
