import { HEADS_TABLE, qualified, type Queryable } from '@sluice/projection-kit';
import type { VersionRef } from './checkpoints';

export interface GuardState {
  /** Keys with an unresolved parked record in this projection version: their later events are held. */
  readonly parkedKeys: Set<string>;
  /** Each aggregate's last applied version in this projection version. */
  readonly heads: Map<string, number>;
}

/**
 * What the version guard needs before a batch, in one round trip: the batch's
 * keys that are parked (projection_parked) and its aggregates' heads (the
 * projection schema's heads table).
 */
export async function loadGuardState(
  db: Queryable,
  ref: VersionRef,
  schema: string,
  keys: readonly string[],
  aggregateIds: readonly string[],
): Promise<GuardState> {
  if (keys.length === 0 && aggregateIds.length === 0) return { parkedKeys: new Set(), heads: new Map() };
  const { rows } = await db.query<{ parked: boolean; id: string; version: number | null }>(
    `SELECT DISTINCT true AS parked, key AS id, NULL::int4 AS version FROM projection_parked
      WHERE projection = $1 AND version = $2 AND key = ANY($3::text[]) AND state <> 'resolved'
     UNION ALL
     SELECT false, aggregate_id, version FROM ${qualified(schema, HEADS_TABLE)} WHERE aggregate_id = ANY($4::text[])`,
    [ref.projection, ref.version, [...new Set(keys)], [...new Set(aggregateIds)]],
  );
  const parkedKeys = new Set<string>();
  const heads = new Map<string, number>();
  for (const r of rows) {
    if (r.parked) parkedKeys.add(r.id);
    else heads.set(r.id, r.version!);
  }
  return { parkedKeys, heads };
}
