import { bigint, char, index, integer, jsonb, pgTable, primaryKey, text, timestamp, uuid, varchar } from 'drizzle-orm/pg-core';

import { deposits, wallets, withdrawals } from '@sluice/wallet-store';

export { outbox } from '@sluice/outbox';
// The wallet's own tables live in @sluice/wallet-store, beside the reads other packages make of them.
export { deposits, wallets, withdrawals };

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
