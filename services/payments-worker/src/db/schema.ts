import { sql } from 'drizzle-orm';
import {
  bigint,
  bigserial,
  boolean,
  unique,
  char,
  check,
  index,
  integer,
  jsonb,
  pgTable,
  text,
  timestamp,
  uuid,
  varchar,
} from 'drizzle-orm/pg-core';

/**
 * A saga that is over on both sides: the provider's answer is final and the
 * wallet's events show the matching end (nothing left to re-send). The
 * retention purge deletes only these; its index has the same predicate.
 */
export const FINISHED_SAGA =
  "(state = 'completed' AND wallet_state = 'completed') OR (state = 'failed' AND wallet_state = 'compensated')";

/** A webhook the worker has processed; an unprocessed one stays whatever its age. */
export const PROCESSED_WEBHOOK = 'processed_at IS NOT NULL';

/**
 * One row per withdrawal the worker pays out: where its saga stands, when its
 * next step is due, and who holds it. The worker owns these tables; it moves
 * the wallet only through wallet commands (payment_commands), never by
 * writing the command side's tables.
 */
export const paymentSagas = pgTable(
  'payment_sagas',
  {
    withdrawalId: uuid('withdrawal_id').primaryKey(),
    walletId: uuid('wallet_id').notNull(),
    amount: bigint('amount', { mode: 'number' }).notNull(),
    currency: char('currency', { length: 3 }).notNull(),
    /** requested (payout to send or to look up) | submitted (accepted, awaiting the final answer) | completed | failed | needs_review */
    state: varchar('state', { length: 16 }).notNull(),
    /** The furthest the wallet's own events have shown: requested | submitted | completed | compensated. */
    walletState: varchar('wallet_state', { length: 16 }).notNull().default('requested'),
    /** The same on every call for this withdrawal, so the provider executes it once. */
    idempotencyKey: varchar('idempotency_key', { length: 64 }).notNull(),
    provider: varchar('provider', { length: 64 }).notNull(),
    providerReference: varchar('provider_reference', { length: 255 }),
    /** Steps that ended without an answer, for the backoff between steps. */
    attempts: integer('attempts').notNull().default(0),
    nextAttemptAt: timestamp('next_attempt_at', { withTimezone: true, mode: 'date' }).notNull(),
    /** A worker running a step holds the saga until then; a crashed worker's lease runs out. */
    leaseUntil: timestamp('lease_until', { withTimezone: true, mode: 'date' }),
    leaseToken: uuid('lease_token'),
    /** Set while the provider's circuit is open: the saga waits, it does not fail. */
    parkedAt: timestamp('parked_at', { withTimezone: true, mode: 'date' }),
    failureReason: varchar('failure_reason', { length: 64 }),
    lastError: text('last_error'),
    requestedAt: timestamp('requested_at', { withTimezone: true, mode: 'date' }).notNull(),
    submittedAt: timestamp('submitted_at', { withTimezone: true, mode: 'date' }),
    finishedAt: timestamp('finished_at', { withTimezone: true, mode: 'date' }),
    updatedAt: timestamp('updated_at', { withTimezone: true, mode: 'date' }).notNull(),
    /** A payout request went out without an answer that says whether the provider acted on it. */
    sendUncertain: boolean('send_uncertain').notNull().default(false),
    /** An old withdrawal (history into a fresh store): looked up at the provider before anything is sent. */
    lookUpFirst: boolean('look_up_first').notNull().default(false),
    /** Why the saga waits for a person (state needs_review), and since when. */
    reviewReason: varchar('review_reason', { length: 32 }),
    reviewAt: timestamp('review_at', { withTimezone: true, mode: 'date' }),
    /** How a person resolved it (paid | failed), who, and why. */
    resolution: varchar('resolution', { length: 16 }),
    resolvedBy: varchar('resolved_by', { length: 255 }),
    resolutionNote: text('resolution_note'),
    resolvedAt: timestamp('resolved_at', { withTimezone: true, mode: 'date' }),
    /** The withdrawal's trace: the traceparent of the span that handled its WithdrawalRequested; its steps continue it. */
    traceparent: varchar('traceparent', { length: 55 }),
  },
  (t) => [
    index('payment_sagas_review_idx')
      .on(t.reviewAt)
      .where(sql`${t.state} = 'needs_review'`),
    index('payment_sagas_due_idx')
      .on(t.nextAttemptAt)
      .where(sql`${t.state} IN ('requested', 'submitted') AND ${t.parkedAt} IS NULL`),
    index('payment_sagas_parked_idx')
      .on(t.parkedAt)
      .where(sql`${t.parkedAt} IS NOT NULL`),
    // The retention purge's scan of finished sagas (services/payments-worker/src/lifecycle.ts, FINISHED_SAGA).
    index('payment_sagas_finished_idx').on(t.finishedAt).where(sql.raw(FINISHED_SAGA)),
    check('payment_sagas_amount_positive', sql`${t.amount} > 0`),
  ],
);

/**
 * The worker's outbox of wallet commands: written in the transaction that
 * moves the saga, sent to the wallet command topic by the dispatcher, deleted
 * once Kafka acknowledged them. The wallet's inbox dedupes by command id, so
 * a command sent twice (a crash between send and delete) takes effect once.
 */
export const paymentCommands = pgTable('payment_commands', {
  seq: bigserial('seq', { mode: 'number' }).primaryKey(),
  commandId: uuid('command_id').notNull().unique(),
  walletId: uuid('wallet_id').notNull(),
  type: varchar('type', { length: 64 }).notNull(),
  body: text('body').notNull(),
  createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
  /** The span that decided the command; sent as the record's traceparent header, for the command API to continue. */
  traceparent: varchar('traceparent', { length: 55 }),
});

/**
 * Every webhook the provider sent, once: the provider's event id is the key,
 * so a delivery repeated by the provider changes nothing. Rows are written
 * by the HTTP handler (which then answers 200) and processed from here.
 */
export const pspWebhookInbox = pgTable(
  'psp_webhook_inbox',
  {
    eventId: varchar('event_id', { length: 255 }).primaryKey(),
    type: varchar('type', { length: 64 }).notNull(),
    reference: varchar('reference', { length: 255 }),
    body: jsonb('body').notNull(),
    receivedAt: timestamp('received_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
    processedAt: timestamp('processed_at', { withTimezone: true, mode: 'date' }),
    /** What processing did: applied, ignored (stale or repeated news), unknown_reference. */
    outcome: varchar('outcome', { length: 32 }),
  },
  (t) => [
    index('psp_webhook_inbox_unprocessed_idx')
      .on(t.receivedAt)
      .where(sql`${t.processedAt} IS NULL`),
    // The retention purge's scan of processed webhooks.
    index('psp_webhook_inbox_processed_idx').on(t.receivedAt).where(sql.raw(PROCESSED_WEBHOOK)),
  ],
);

/**
 * Final answers that contradict a finished saga (paid after it failed and
 * released its hold, failed after it completed): kept for review, never
 * applied. One row per withdrawal and provider event.
 */
export const paymentConflicts = pgTable(
  'payment_conflicts',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    withdrawalId: uuid('withdrawal_id').notNull(),
    sagaState: varchar('saga_state', { length: 16 }).notNull(),
    reportedStatus: varchar('reported_status', { length: 16 }).notNull(),
    payoutId: varchar('payout_id', { length: 255 }).notNull(),
    source: varchar('source', { length: 16 }).notNull(),
    eventId: varchar('event_id', { length: 255 }),
    detectedAt: timestamp('detected_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
    acknowledgedBy: varchar('acknowledged_by', { length: 255 }),
    acknowledgedAt: timestamp('acknowledged_at', { withTimezone: true, mode: 'date' }),
  },
  (t) => [unique('payment_conflicts_event_unique').on(t.withdrawalId, t.eventId)],
);
