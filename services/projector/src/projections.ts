import type { ProjectionDefinition } from '@sluice/projection-kit';
import { transactionsProjection } from '@sluice/projection-transactions';
import { walletProjection } from '@sluice/projection-wallet';
import { withdrawalsProjection } from '@sluice/projection-withdrawals';

/** Every projection this build knows, by name: each is one folder under projections/. */
export const PROJECTIONS: readonly ProjectionDefinition[] = [walletProjection, transactionsProjection, withdrawalsProjection];

export function projectionNamed(name: string): ProjectionDefinition {
  const def = PROJECTIONS.find((p) => p.name === name);
  if (!def) throw new Error(`no projection named "${name}"; known: ${PROJECTIONS.map((p) => p.name).join(', ')}`);
  return def;
}
