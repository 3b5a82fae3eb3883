import { customType, integer, pgTable, timestamp, varchar } from 'drizzle-orm/pg-core';

const pgLsn = customType<{ data: string; driverData: string }>({ dataType: () => 'pg_lsn' });

/**
 * The relay's own record of how far it got, next to the slot's: the last record
 * Kafka acknowledged, as (commit LSN of its transaction, index within it), and
 * the position it confirmed to PostgreSQL. Written before each confirmation,
 * so the slot can never be ahead of it unless the slot was recreated.
 */
export const relayCheckpoints = pgTable('relay_checkpoints', {
  slotName: varchar('slot_name', { length: 63 }).primaryKey(),
  commitLsn: pgLsn('commit_lsn').notNull(),
  /** Index of the record within its transaction, from 0; -1 before any record. */
  idx: integer('idx').notNull(),
  confirmedLsn: pgLsn('confirmed_lsn').notNull(),
  updatedAt: timestamp('updated_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
});
