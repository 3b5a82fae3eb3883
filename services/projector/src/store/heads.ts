import { HEADS_TABLE, qualified, type Queryable } from '@sluice/projection-kit';

/** The last version the projection version folded (or let pass) per aggregate. */
export async function loadHeads(db: Queryable, schema: string, aggregateIds: readonly string[]): Promise<Map<string, number>> {
  if (aggregateIds.length === 0) return new Map();
  const { rows } = await db.query<{ aggregate_id: string; version: number }>(
    `SELECT aggregate_id, version FROM ${qualified(schema, HEADS_TABLE)} WHERE aggregate_id = ANY($1::text[])`,
    [[...new Set(aggregateIds)]],
  );
  return new Map(rows.map((r) => [r.aggregate_id, r.version]));
}

export async function saveHeads(db: Queryable, schema: string, heads: ReadonlyMap<string, number>): Promise<void> {
  if (heads.size === 0) return;
  await db.query(
    `INSERT INTO ${qualified(schema, HEADS_TABLE)} AS t (aggregate_id, version)
     SELECT * FROM unnest($1::text[], $2::int4[])
     ON CONFLICT (aggregate_id) DO UPDATE SET version = excluded.version WHERE excluded.version > t.version`,
    [[...heads.keys()], [...heads.values()]],
  );
}
