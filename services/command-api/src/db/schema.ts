import { sql } from 'drizzle-orm';
import {
  bigint,
  char,
  check,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uuid,
  varchar,
} from 'drizzle-orm/pg-core';

export { outbox } from '@sluice/outbox';

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

/**
 * One row per (client, Idempotency-Key): the request's fingerprint and the
 * response it got, written in the same transaction as the command's effect.
 */
export const idempotencyKeys = pgTable(
  'idempotency_keys',
  {
    clientId: varchar('client_id', { length: 128 }).notNull(),
    key: varchar('key', { length: 255 }).notNull(),
    fingerprint: char('fingerprint', { length: 64 }).notNull(),
    statusCode: integer('status_code').notNull(),
    /** The response body exactly as first sent, so a replay is byte-identical. */
    responseBody: text('response_body').notNull(),
    responseHeaders: jsonb('response_headers').notNull().$type<Record<string, string>>(),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.clientId, t.key] }), index('idempotency_keys_created_at_idx').on(t.createdAt)],
);

export const commandSchema = { wallets, deposits, withdrawals, idempotencyKeys };
