import { bigint, char, index, integer, pgTable, text, timestamp, uuid, varchar } from 'drizzle-orm/pg-core';

/**
 * Where each withdrawal stands, folded from the withdrawal events on its
 * wallet's stream. Named withdrawal_status because the command side owns a
 * `withdrawals` table in the same database. Declared unqualified: each
 * version of the projection keeps it in its own schema.
 */
export const withdrawalStatus = pgTable(
  'withdrawal_status',
  {
    withdrawalId: uuid('withdrawal_id').primaryKey(),
    walletId: uuid('wallet_id').notNull(),
    amount: bigint('amount', { mode: 'number' }).notNull(),
    currency: char('currency', { length: 3 }).notNull(),
    /** processing | completed | failed | compensated */
    state: varchar('state', { length: 16 }).notNull(),
    provider: varchar('provider', { length: 64 }),
    providerReference: varchar('provider_reference', { length: 255 }),
    failureReason: varchar('failure_reason', { length: 64 }),
    failureDetail: text('failure_detail'),
    requestedAt: timestamp('requested_at', { withTimezone: true, mode: 'date' }).notNull(),
    /** occurredAt of the last event folded in. */
    updatedAt: timestamp('updated_at', { withTimezone: true, mode: 'date' }).notNull(),
    /** The wallet's version after the last event folded in. */
    version: integer('version').notNull(),
    lastEventId: uuid('last_event_id').notNull(),
    projectedAt: timestamp('projected_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
  },
  (t) => [index('withdrawal_status_wallet_id_idx').on(t.walletId)],
);

export type WithdrawalStatusRow = typeof withdrawalStatus.$inferSelect;
