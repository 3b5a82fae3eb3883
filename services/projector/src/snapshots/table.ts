import { sql } from 'drizzle-orm';
import { bigint, bigserial, index, integer, jsonb, pgTable, timestamp, uniqueIndex, varchar } from 'drizzle-orm/pg-core';

/**
 * Read-model snapshots: a copy of one projection version's tables (in their
 * own schema, `schema_name`) and the per-partition checkpoints they stood at,
 * taken in one REPEATABLE READ transaction. A rebuild restores the newest one
 * whose fingerprint matches the fold it runs and consumes from `offsets`.
 */
export const projectionSnapshots = pgTable(
  'projection_snapshots',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    projection: varchar('projection', { length: 64 }).notNull(),
    /** The version it was taken of. */
    version: integer('version').notNull(),
    /** Hash of the projection's fold, tables and migrations (snapshots/fingerprint.ts): a changed fold never restores it. */
    fingerprint: varchar('fingerprint', { length: 64 }).notNull(),
    schemaName: varchar('schema_name', { length: 63 }).notNull(),
    topic: varchar('topic', { length: 249 }).notNull(),
    /** Partition → next offset to apply after the snapshot, as decimal strings. */
    offsets: jsonb('offsets').notNull(),
    /** Table → rows copied. */
    rowCounts: jsonb('row_counts').notNull(),
    /** Records covered: the sum of the offsets. */
    records: bigint('records', { mode: 'number' }).notNull(),
    bytes: bigint('bytes', { mode: 'number' }).notNull(),
    durationMs: integer('duration_ms').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' })
      .notNull()
      .default(sql`now()`),
  },
  (t) => [
    uniqueIndex('projection_snapshots_schema_name_idx').on(t.schemaName),
    index('projection_snapshots_newest_idx').on(t.projection, t.createdAt),
  ],
);
