import { sql } from 'drizzle-orm';
import { bigint, char, check, index, integer, pgTable, timestamp, uuid, varchar } from 'drizzle-orm/pg-core';

/*
 * The command side's wallet tables. The command API writes them (its migrations are generated from
 * these definitions, services/command-api/drizzle.config.ts); other packages read them only through
 * this library's read functions (reads.ts), so their shape is known here alone.
 */

/** The command side's state of each wallet; `version` guards concurrent writers. */
export const wallets = pgTable(
  'wallets',
  {
    id: uuid('id').primaryKey(),
    currency: char('currency', { length: 3 }).notNull(),
    balance: bigint('balance', { mode: 'number' }).notNull().default(0),
    /** Held for pending withdrawals; available = balance - held. */
    held: bigint('held', { mode: 'number' }).notNull().default(0),
    version: integer('version').notNull(),
    /** The subject that opened the wallet; only it acts on the wallet with customer scopes. Null on wallets from before owners. */
    owner: varchar('owner', { length: 255 }),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull(),
    updatedAt: timestamp('updated_at', { withTimezone: true, mode: 'date' }).notNull(),
  },
  (t) => [
    check('wallets_balance_non_negative', sql`${t.balance} >= 0`),
    check('wallets_held_within_balance', sql`${t.held} >= 0 AND ${t.held} <= ${t.balance}`),
  ],
);

export const deposits = pgTable(
  'deposits',
  {
    id: uuid('id').primaryKey(),
    walletId: uuid('wallet_id')
      .notNull()
      .references(() => wallets.id),
    amount: bigint('amount', { mode: 'number' }).notNull(),
    currency: char('currency', { length: 3 }).notNull(),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull(),
  },
  (t) => [index('deposits_wallet_id_idx').on(t.walletId), check('deposits_amount_positive', sql`${t.amount} > 0`)],
);

/** Each withdrawal's state on the command side; its history is in the wallet's events. */
export const withdrawals = pgTable(
  'withdrawals',
  {
    id: uuid('id').primaryKey(),
    walletId: uuid('wallet_id')
      .notNull()
      .references(() => wallets.id),
    amount: bigint('amount', { mode: 'number' }).notNull(),
    currency: char('currency', { length: 3 }).notNull(),
    status: varchar('status', { length: 16 })
      .notNull()
      .$type<'requested' | 'submitted' | 'completed' | 'failed' | 'compensated'>(),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull(),
    updatedAt: timestamp('updated_at', { withTimezone: true, mode: 'date' }).notNull(),
  },
  (t) => [index('withdrawals_wallet_id_idx').on(t.walletId), check('withdrawals_amount_positive', sql`${t.amount} > 0`)],
);
