import {
  commonEnv,
  consumerEnv,
  env,
  metricsEnv,
  metricsPortDiffers,
  purgeEnv,
  purgeTimeoutsOrdered,
  retentionHours,
  z,
} from '@sluice/config';
import { COMMAND_TOPIC_RETENTION_HOURS, commandSenderEnv, kafkaSecurityEnv, signingKeyRequired } from '@sluice/messaging';

const kafkaName = z.string().regex(/^[A-Za-z0-9._-]{1,249}$/);

/**
 * The payments worker: the withdrawal saga against the payment provider.
 * Provider calls: a timeout per try shorter than the SLO, at most
 * PSP_RETRIES retries with full-jitter backoff and the same idempotency key,
 * a bulkhead, and a circuit breaker.
 */
export const paymentsWorkerConfig = z
  .object({
    ...commonEnv,
    ...kafkaSecurityEnv,
    ...consumerEnv,
    /** Webhooks (POST /v1/psp/webhooks), health and metrics. */
    PORT: env.port(3030),
    ...metricsEnv,
    DB_POOL_MAX: env.int(8, 3, 200),
    DB_STATEMENT_TIMEOUT_MS: env.int(5_000, 10),
    /** Covers the command dispatcher's wait for Kafka inside its transaction. */
    DB_IDLE_IN_TRANSACTION_TIMEOUT_MS: env.int(30_000, 10),
    MIGRATE_ON_START: env.bool(true),
    /**
     * Register the wallet command schemas at start-up (local development). Off (the production
     * default), only their ids are looked up; the release step `sluice schemas register` registers them.
     */
    SCHEMA_AUTO_REGISTER: env.bool(true),
    /** Consumer group on the wallet events; used exactly as given. */
    PAYMENTS_GROUP_ID: kafkaName.default('sluice-payments-worker'),
    /**
     * A new group starts at the end of the wallet events. true replays the whole history; its
     * withdrawals older than PAYOUT_LOOK_UP_FIRST_AFTER_MS (and every one from before the start,
     * when the saga store is empty) are looked up at the provider before anything is sent.
     */
    PAYMENTS_FROM_BEGINNING: env.bool(false),
    /** A withdrawal requested longer ago than this is looked up at the provider (by reference) before its payout is sent. */
    PAYOUT_LOOK_UP_FIRST_AFTER_MS: env.int(600_000, 0),
    /**
     * The provider's documented decline codes: a payout failed with one of these (or a payout request
     * answered 422 with one) releases the hold. Any other refusal puts the saga aside for review.
     */
    PSP_DECLINE_CODES: env.list('declined').pipe(z.array(z.string().regex(/^[a-z0-9_]{1,48}$/)).min(1)),
    /** Wallet events that cannot be handled (undecodable, refused); defaults to <PAYMENTS_GROUP_ID>.dlq. */
    PAYMENTS_DLQ_TOPIC: kafkaName.optional(),
    WALLET_COMMANDS_TOPIC: kafkaName.default('sluice.wallet.commands'),
    /** Partitions of the command topic when the worker has to create it (auto-creation is off). */
    WALLET_COMMANDS_PARTITIONS: env.int(12, 1, 10_000),
    /** retention.ms of the command topic when the worker creates it: the same as the command API's (the wallet's inbox is judged against it). */
    WALLET_COMMANDS_RETENTION_HOURS: retentionHours(COMMAND_TOPIC_RETENTION_HOURS),
    /** Names the provider in the wallet's events and in metrics. */
    PSP_NAME: z
      .string()
      .regex(/^[a-z0-9-]{1,64}$/)
      .default('psp-simulator'),
    PSP_URL: env.url('http://127.0.0.1:3002'),
    PSP_WEBHOOK_SECRET: z.string().min(16).default('sluice-local-psp-webhook-secret'),
    /** A webhook signed longer ago than this (or this far ahead) is refused as a replay. */
    PSP_WEBHOOK_TOLERANCE_S: env.int(300, 1, 86_400),
    /** One try of a provider call; shorter than the payout SLO by far. */
    PSP_TIMEOUT_MS: env.int(1_500, 10, 60_000),
    PSP_RETRIES: env.int(2, 0, 2),
    PSP_RETRY_BASE_MS: env.int(100, 1),
    PSP_RETRY_MAX_MS: env.int(1_000, 1),
    /** Bulkhead: provider calls at once, and callers that may wait for a slot. */
    PSP_CONCURRENCY: env.int(16, 1, 1_000),
    PSP_QUEUE: env.int(64, 0, 100_000),
    /** Circuit breaker: opens at this failure share over the window (with at least MIN_CALLS calls), stays open OPEN_MS. */
    PSP_CIRCUIT_FAILURE_RATE: env.number(0.5, 0.01).pipe(z.number().max(1)),
    PSP_CIRCUIT_MIN_CALLS: env.int(10, 1),
    PSP_CIRCUIT_WINDOW_MS: env.int(10_000, 100),
    PSP_CIRCUIT_OPEN_MS: env.int(5_000, 100),
    /** After the provider accepted a payout, how long its final answer may take before the worker asks for it. */
    PAYOUT_ANSWER_DEADLINE_MS: env.int(10_000, 50),
    /** Backoff between saga steps that got no answer. */
    PAYOUT_STEP_BACKOFF_BASE_MS: env.int(200, 1),
    PAYOUT_STEP_BACKOFF_MAX_MS: env.int(30_000, 1),
    /** A finished saga whose wallet has not shown the end in its events by then gets its finishing command again. */
    PAYOUT_RECONFIRM_MS: env.int(60_000, 100),
    /** How long a step holds its saga; a crashed worker's sagas are picked up after it. */
    PAYOUT_LEASE_MS: env.int(30_000, 1_000),
    /** How often due sagas, webhooks and commands are looked for when nothing woke the worker. */
    PAYOUT_POLL_MS: env.int(200, 10, 60_000),
    /**
     * An idle worker's polls space out, doubling from PAYOUT_POLL_MS up to this: work that arrives
     * in the process wakes it at once; the polls are for other replicas' work and for due times.
     */
    PAYOUT_IDLE_POLL_MAX_MS: env.int(2_000, 10, 60_000),
    ...commandSenderEnv('payments-worker'),
    /** The retention purge of finished sagas and processed webhooks (docs/data-lifecycle.md). */
    ...purgeEnv,
    /** A saga finished on both sides (paid and completed, or failed and compensated) is kept this long after it finished. */
    PAYMENT_SAGA_RETENTION_HOURS: retentionHours(30 * 24),
    /** A processed provider webhook is kept this long after it arrived, deduping the provider's redeliveries. */
    PSP_WEBHOOK_INBOX_RETENTION_HOURS: retentionHours(14 * 24),
    /** How long the provider goes on redelivering a webhook it sent (its documented retry schedule). */
    PSP_WEBHOOK_REDELIVERY_HOURS: retentionHours(3 * 24),
  })
  .refine(...metricsPortDiffers)
  .refine(...signingKeyRequired)
  .refine((c) => c.PAYOUT_POLL_MS <= c.PAYOUT_IDLE_POLL_MAX_MS, {
    message: 'PAYOUT_POLL_MS must not exceed PAYOUT_IDLE_POLL_MAX_MS',
  })
  .refine((c) => c.KAFKA_HEARTBEAT_INTERVAL_MS * 3 <= c.KAFKA_SESSION_TIMEOUT_MS, {
    message: 'KAFKA_HEARTBEAT_INTERVAL_MS must be at most a third of KAFKA_SESSION_TIMEOUT_MS',
  })
  .refine((c) => c.CONSUMER_RETRY_BASE_MS <= c.CONSUMER_RETRY_MAX_MS, {
    message: 'CONSUMER_RETRY_BASE_MS must not exceed CONSUMER_RETRY_MAX_MS',
  })
  .refine((c) => c.PSP_RETRY_BASE_MS <= c.PSP_RETRY_MAX_MS, { message: 'PSP_RETRY_BASE_MS must not exceed PSP_RETRY_MAX_MS' })
  .refine((c) => c.PAYOUT_STEP_BACKOFF_BASE_MS <= c.PAYOUT_STEP_BACKOFF_MAX_MS, {
    message: 'PAYOUT_STEP_BACKOFF_BASE_MS must not exceed PAYOUT_STEP_BACKOFF_MAX_MS',
  })
  .refine((c) => 2 * ((c.PSP_RETRIES + 1) * c.PSP_TIMEOUT_MS + c.PSP_RETRIES * c.PSP_RETRY_MAX_MS) < c.PAYOUT_LEASE_MS, {
    message: 'PAYOUT_LEASE_MS must outlast a step: a look-up and a payout call, each with every retry',
  })
  .refine((c) => c.DB_STATEMENT_TIMEOUT_MS <= c.DB_IDLE_IN_TRANSACTION_TIMEOUT_MS, {
    message: 'DB_STATEMENT_TIMEOUT_MS must not exceed DB_IDLE_IN_TRANSACTION_TIMEOUT_MS',
  })
  .refine((c) => !c.OUTBOX_TOPIC_PATTERN.includes(c.WALLET_COMMANDS_TOPIC), {
    message: 'WALLET_COMMANDS_TOPIC must not be an event topic',
  })
  .refine(...purgeTimeoutsOrdered)
  .refine((c) => c.PSP_WEBHOOK_INBOX_RETENTION_HOURS > c.PSP_WEBHOOK_REDELIVERY_HOURS, {
    message:
      'PSP_WEBHOOK_INBOX_RETENTION_HOURS must exceed PSP_WEBHOOK_REDELIVERY_HOURS: a webhook the provider redelivers after its inbox row is purged would be processed again',
    path: ['PSP_WEBHOOK_INBOX_RETENTION_HOURS'],
  })
  .refine((c) => c.PAYMENT_SAGA_RETENTION_HOURS * 3_600_000 > c.PAYOUT_LOOK_UP_FIRST_AFTER_MS, {
    message:
      'PAYMENT_SAGA_RETENTION_HOURS must exceed PAYOUT_LOOK_UP_FIRST_AFTER_MS: a withdrawal request delivered again after its saga is purged must be looked up at the provider, not paid out again',
    path: ['PAYMENT_SAGA_RETENTION_HOURS'],
  });

export type PaymentsWorkerConfig = z.infer<typeof paymentsWorkerConfig>;

/** What the migrate step (`main.js migrate`, run by `sluice migrate` as the owner role) needs: the database only. */
export const paymentsMigrationConfig = z.object({
  SLUICE_ENV: commonEnv.SLUICE_ENV,
  DATABASE_URL: commonEnv.DATABASE_URL,
  DATABASE_SSL_CA_FILE: commonEnv.DATABASE_SSL_CA_FILE,
});
