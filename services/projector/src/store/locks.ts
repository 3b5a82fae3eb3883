import type { Queryable } from '@sluice/projection-kit';

/**
 * Advisory lock keys. Batches take a projection's lock shared for the length
 * of their transaction; a switch of its live version takes it exclusively, so
 * a batch sees the version before or after the switch, never both. Setup
 * (migrations, adoption) serialises on its own key across replicas.
 */
export const projectionLock = (projection: string): string => `sluice.projection.${projection}`;
export const setupLock = (projection: string): string => `sluice.projection-setup.${projection}`;

export async function lockShared(db: Queryable, projections: readonly string[]): Promise<void> {
  if (projections.length === 0) return;
  await db.query(`SELECT pg_advisory_xact_lock_shared(hashtext(k)) FROM unnest($1::text[]) AS k ORDER BY k`, [
    projections.map(projectionLock),
  ]);
}

export async function lockExclusive(db: Queryable, projection: string): Promise<void> {
  await db.query('SELECT pg_advisory_xact_lock(hashtext($1))', [projectionLock(projection)]);
}
