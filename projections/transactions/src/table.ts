import { sql } from 'drizzle-orm';
import { bigint, char, check, integer, pgTable, primaryKey, timestamp, uuid, varchar } from 'drizzle-orm/pg-core';

/**
 * A wallet's transaction history: one immutable row per event that moves
 * money, keyed by the wallet's version after it, so the newest-first page is
 * an index range scan and an event can never appear twice. Declared
 * unqualified: each version of the projection keeps it in its own schema.
 */
export const walletTransactions = pgTable(
  'wallet_transactions',
  {
    walletId: uuid('wallet_id').notNull(),
    /** The wallet's version after this event: orders the history and names the item. */
    version: integer('version').notNull(),
    /** deposit | withdrawal_hold | withdrawal | withdrawal_release */
    type: varchar('type', { length: 32 }).notNull(),
    /** Minor units, > 0; the type says which way it moved. */
    amount: bigint('amount', { mode: 'number' }).notNull(),
    currency: char('currency', { length: 3 }).notNull(),
    /** The wallet's owned funds after this event. */
    balance: bigint('balance', { mode: 'number' }).notNull(),
    /** The deposit or withdrawal this item belongs to. */
    reference: uuid('reference').notNull(),
    eventId: uuid('event_id').notNull(),
    occurredAt: timestamp('occurred_at', { withTimezone: true, mode: 'date' }).notNull(),
    projectedAt: timestamp('projected_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.walletId, t.version] }), check('wallet_transactions_amount_positive', sql`${t.amount} > 0`)],
);

export type WalletTransactionRow = typeof walletTransactions.$inferSelect;
