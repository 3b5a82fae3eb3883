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

/**
 * One row per (principal, Idempotency-Key): the request's fingerprint and the
 * response it got, written in the same transaction as the command's effect.
 */
export const idempotencyKeys = pgTable(
  'idempotency_keys',
  {
    /** The principal (the access token's subject) the key belongs to. */
    clientId: varchar('client_id', { length: 255 }).notNull(),
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

/**
 * Every accepted command, appended in the command's own transaction: who
 * (the principal, or an internal command's issuer), what, when and under
 * which request. Append-only: a trigger refuses UPDATE, DELETE and TRUNCATE
 * (migration 0003).
 */
export const auditLog = pgTable(
  'audit_log',
  {
    seq: bigint('seq', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
    principal: varchar('principal', { length: 255 }).notNull(),
    /** http (a bearer token's subject) or kafka (an internal command's issuer). */
    source: varchar('source', { length: 16 }).notNull().$type<'http' | 'kafka'>(),
    commandType: varchar('command_type', { length: 64 }).notNull(),
    walletId: uuid('wallet_id').notNull(),
    amount: bigint('amount', { mode: 'number' }),
    currency: char('currency', { length: 3 }),
    /** The Idempotency-Key (http) or the command's message id (kafka). */
    requestId: varchar('request_id', { length: 255 }),
    recordedAt: timestamp('recorded_at', { withTimezone: true, mode: 'date' }).notNull(),
  },
  (t) => [index('audit_log_wallet_id_idx').on(t.walletId), index('audit_log_principal_idx').on(t.principal)],
);

export const commandSchema = { wallets, deposits, withdrawals, idempotencyKeys, auditLog };
