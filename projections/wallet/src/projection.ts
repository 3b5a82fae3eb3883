import { join } from 'node:path';
import type { AggregatePosition, DecodedEventLike, ProjectionDefinition, ProjectionOutcome } from '@sluice/projection-kit';
import { walletCatalog, type WalletEvent } from '@sluice/schemas';
import { assertNever } from '@sluice/wallet-domain';
import type { WalletFoldResult } from './fold';
import { projectWalletEvents } from './store';

const WALLET_EVENT_TYPES = Object.keys(walletCatalog.schemas) as WalletEvent['type'][];
const KNOWN: ReadonlySet<string> = new Set(WALLET_EVENT_TYPES);

/** Every event of the wallet topic names its wallet and the wallet's version after it. */
export function walletPosition(event: DecodedEventLike): AggregatePosition | undefined {
  const data = event.data as { walletId?: unknown; version?: unknown } | null;
  if (!data || typeof data.walletId !== 'string' || typeof data.version !== 'number') return undefined;
  return { id: data.walletId, version: data.version };
}

function toOutcome(result: WalletFoldResult): ProjectionOutcome {
  switch (result.kind) {
    case 'applied':
      return { status: 'applied' };
    case 'duplicate':
      return { status: 'duplicate' };
    case 'rejected':
      return { status: 'rejected', reason: result.reason, detail: result.detail };
    default:
      return assertNever(result);
  }
}

/** Balance, held and available funds and version per wallet. */
export const walletProjection: ProjectionDefinition<WalletEvent> = {
  name: 'wallet',
  description: 'balance, held and available funds and version per wallet',
  aggregateType: walletCatalog.aggregateType,
  eventTypes: WALLET_EVENT_TYPES,
  tables: ['wallet_balances'],
  migrations: { folder: join(__dirname, '../migrations') },
  partialHistory: false,
  position: walletPosition,
  // The codec decoded the value with this type's reader schema, so the data has its shape.
  accept: (event) => (KNOWN.has(event.type) ? (event as WalletEvent) : undefined),
  apply: async (ctx, events) => (await projectWalletEvents(ctx, events)).map(toOutcome),
  legacy: {
    tables: ['wallet_balances'],
    migrationsTable: '__migrations_projection_wallet',
    headsQuery: 'SELECT wallet_id::text, version FROM wallet_balances',
  },
};
