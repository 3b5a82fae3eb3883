import { sql } from 'drizzle-orm';
import { bigint, char, check, integer, pgTable, timestamp, uuid, varchar } from 'drizzle-orm/pg-core';

/**
 * The wallet read model: one row per wallet, as of the event with `version`.
 * The command side owns a `wallets` table in the same database, hence the
 * different name. Declared unqualified: each version of the projection keeps
 * it in its own schema, and readers see the live one through a view of this
 * name in public.
 */
export const walletBalances = pgTable(
  'wallet_balances',
  {
    walletId: uuid('wallet_id').primaryKey(),
    currency: char('currency', { length: 3 }).notNull(),
    /** Minor units; the command side keeps it a safe integer. */
    balance: bigint('balance', { mode: 'number' }).notNull(),
    /** Held for pending withdrawals; available = balance - held. */
    held: bigint('held', { mode: 'number' }).notNull().default(0),
    /** What the wallet can spend now: computed by PostgreSQL, so it never disagrees with its parts. */
    available: bigint('available', { mode: 'number' })
      .notNull()
      .generatedAlwaysAs(sql`balance - held`),
    /** The subject that opened the wallet (WalletOpened.owner): readers answer only it, unless they may read any wallet. */
    owner: varchar('owner', { length: 255 }),
    /** The wallet's version after the last event folded in: the per-aggregate guard. */
    version: integer('version').notNull(),
    /** occurredAt of WalletOpened. */
    openedAt: timestamp('opened_at', { withTimezone: true, mode: 'date' }).notNull(),
    /** occurredAt of the last event folded in. */
    updatedAt: timestamp('updated_at', { withTimezone: true, mode: 'date' }).notNull(),
    /** Which event produced this row, to trace a value back to the stream. */
    lastEventId: uuid('last_event_id').notNull(),
    /** When the projector wrote the row; projected_at − updated_at is the projection delay. */
    projectedAt: timestamp('projected_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
  },
  (t) => [check('wallet_balances_version_positive', sql`${t.version} >= 1`)],
);

export type WalletBalanceRow = typeof walletBalances.$inferSelect;
