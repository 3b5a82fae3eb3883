import { join } from 'node:path';
import type { AggregatePosition, DecodedEventLike, ProjectionDefinition, ProjectionOutcome } from '@sluice/projection-kit';
import { walletCatalog, type WalletEvent } from '@sluice/schemas';
import { foldTransaction, type TransactionItem } from './fold';
import { insertTransactions } from './store';

const FOLDED = ['FundsDeposited', 'WithdrawalRequested', 'WithdrawalCompleted', 'WithdrawalCompensated'] as const;
const FOLDED_SET: ReadonlySet<string> = new Set(FOLDED);

function position(event: DecodedEventLike): AggregatePosition | undefined {
  const data = event.data as { walletId?: unknown; version?: unknown } | null;
  if (!data || typeof data.walletId !== 'string' || typeof data.version !== 'number') return undefined;
  return { id: data.walletId, version: data.version };
}

/** Each wallet's transaction history, newest first. */
export const transactionsProjection: ProjectionDefinition<WalletEvent> = {
  name: 'transactions',
  description: 'transaction history per wallet (deposits, withdrawal holds, payouts, releases), newest first',
  aggregateType: walletCatalog.aggregateType,
  eventTypes: FOLDED,
  tables: ['wallet_transactions'],
  migrations: { folder: join(__dirname, '../migrations') },
  // An item is what its event says: a history from any point on is a true statement from that point.
  partialHistory: true,
  position,
  accept: (event) => (FOLDED_SET.has(event.type) ? (event as WalletEvent) : undefined),
  apply: async (ctx, events) => {
    const items: TransactionItem[] = [];
    const outcomes = events.map((event): ProjectionOutcome => {
      const result = foldTransaction(event);
      switch (result.kind) {
        case 'item':
          items.push(result.item);
          return { status: 'applied' };
        case 'none':
          return { status: 'applied' };
        case 'rejected':
          return { status: 'rejected', reason: result.reason, detail: result.detail };
      }
    });
    await insertTransactions(ctx, items);
    return outcomes;
  },
};
