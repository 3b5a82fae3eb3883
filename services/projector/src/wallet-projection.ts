import { projectWalletEvents, type WalletFoldResult } from '@sluice/projection-wallet';
import { walletCatalog, type WalletEvent } from '@sluice/schemas';
import { assertNever } from '@sluice/wallet-domain';
import type { Projection, ProjectionOutcome } from './engine/projection';

const WALLET_EVENT_TYPES: ReadonlySet<string> = new Set(Object.keys(walletCatalog.schemas));

/** The wallet read model (projections/wallet) behind the projector's port. */
export const walletProjection: Projection<WalletEvent> = {
  name: 'wallet',
  accept: (decoded) =>
    // The codec decoded the value with this type's reader schema, so the data has its shape.
    WALLET_EVENT_TYPES.has(decoded.type) ? ({ type: decoded.type, data: decoded.data } as WalletEvent) : undefined,
  apply: async (db, events) => (await projectWalletEvents(db, events)).map(toOutcome),
};

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
