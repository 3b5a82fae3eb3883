import { authEnv, checkAuthEnv } from '@sluice/auth';
import {
  commonEnv,
  consumerEnv,
  env,
  httpServerEnv,
  metricsEnv,
  metricsPortDiffers,
  outboxEnv,
  purgeEnv,
  purgeTimeoutsOrdered,
  retentionHours,
  z,
} from '@sluice/config';
import { COMMAND_TOPIC_RETENTION_HOURS, kafkaSecurityEnv } from '@sluice/messaging';

const MiB = 1024 * 1024;
const kafkaName = z.string().regex(/^[A-Za-z0-9._-]{1,249}$/);

/** WALLET_COMMANDS_MAX_ATTEMPTS names the internal consumer's tries. */
const { CONSUMER_RETRY_ATTEMPTS: _attempts, ...internalConsumerEnv } = consumerEnv;

/**
 * Every setting of the command API, without the rules between them. The
 * migrate step (`main.js migrate`, run by `sluice migrate`) reads only these:
 * it writes tables, and needs no token issuer, no command issuers, no keys.
 */
export const commandApiSettings = z.object({
  ...commonEnv,
  ...kafkaSecurityEnv,
  ...httpServerEnv,
  ...outboxEnv,
  /** Bearer-token authentication of every endpoint but health and metrics (@sluice/auth). */
  ...authEnv,
  /** The internal command consumer's fetch settings and backoff. */
  ...internalConsumerEnv,
  /** In WAL mode, create the outbox's publication and slot at start-up if missing (needs the REPLICATION privilege). */
  OUTBOX_ENSURE_SLOT: env.bool(true),
  /**
   * Register the event schemas at start-up (local development). Off (the production default), the
   * service only looks their ids up and refuses to start while one is missing: the release step
   * `sluice schemas register` registers them.
   */
  SCHEMA_AUTO_REGISTER: env.bool(true),
  PORT: env.port(3000),
  ...metricsEnv,
  DB_POOL_MAX: env.int(10, 1, 200),
  /** Server-side caps per connection; shorter than the request budget. */
  DB_STATEMENT_TIMEOUT_MS: env.int(300, 10),
  DB_IDLE_IN_TRANSACTION_TIMEOUT_MS: env.int(1_000, 10),
  HTTP_BODY_LIMIT_BYTES: env.int(16 * 1024, 256, 1024 * 1024),
  OUTBOX_MODE: z.enum(['wal', 'polling']).default('wal'),
  /** Optimistic-concurrency retries (against writers in other processes) before answering 409. */
  COMMAND_CONFLICT_RETRIES: env.int(5, 0, 50),
  /**
   * Group commit: command transactions running at once (each on its own pooled connection; the
   * rest of the pool serves reads), and commands sharing one transaction, at most. Commands
   * admitted while every command transaction is busy go together in the next. Unset, the
   * transactions are min(2, DB_POOL_MAX): on a small machine fewer, fuller batches cost less
   * CPU per command than many small ones (see docs/benchmarks.md, "Measured").
   */
  COMMAND_GROUP_TRANSACTIONS: z.coerce.number().int().min(1).max(200).optional(),
  COMMAND_GROUP_MAX: env.int(16, 1, 1_000),
  MIGRATE_ON_START: env.bool(true),

  /** Every request's time budget from arrival; its database statements get what is left of it. */
  REQUEST_BUDGET_MS: env.int(400, 10, 60_000),
  /**
   * Behind an edge proxy that stamps X-Request-Start: a request that queued longer than this in
   * front of the process is refused (503 overloaded) instead of started late; as long as the
   * admission queue's wait (DB_ADMISSION_QUEUE_WAIT_MS). 0 = only the budget.
   */
  REQUEST_MAX_QUEUED_MS: env.int(50, 0, 60_000),
  /** Ingress token buckets: the whole service, and each principal (the access token's subject). */
  INGRESS_RATE_PER_SEC: env.number(20_000, 1),
  INGRESS_BURST: env.int(2_000, 1),
  CLIENT_RATE_PER_SEC: env.number(5_000, 1),
  CLIENT_BURST: env.int(500, 1),
  /**
   * Admission control in front of the database: requests in the database stage at once, an
   * adaptive limit within [MIN, MAX]. Above the pool size: admitted commands share transactions.
   */
  DB_ADMISSION_MIN_LIMIT: env.int(2, 1, 200),
  DB_ADMISSION_MAX_LIMIT: env.int(64, 1, 10_000),
  DB_ADMISSION_QUEUE_DEPTH: env.int(200, 0, 100_000),
  DB_ADMISSION_QUEUE_WAIT_MS: env.int(50, 1, 60_000),
  /** A transaction slower than this counts as congestion and shrinks the limit. */
  DB_ADMISSION_LATENCY_THRESHOLD_MS: env.int(200, 1),
  /** This process as a stage: refuse new requests while its event loop is this late on average (0 = off)… */
  EVENT_LOOP_MAX_DELAY_MS: env.int(20, 0),
  /** …or this busy (0..1; 0 = off). */
  EVENT_LOOP_MAX_UTILIZATION: env.number(0, 0).pipe(z.number().max(1)),
  EVENT_LOOP_SAMPLE_MS: env.int(100, 10),
  /** Lag-aware shedding of writes: starts above these, refuses every write at twice them. 0 turns a check off. */
  SHED_RELAY_LAG_BYTES: env.int(256 * MiB, 0),
  SHED_RETAINED_WAL_BYTES: env.int(2048 * MiB, 0),
  SHED_PROBE_INTERVAL_MS: env.int(1_000, 50),
  /** Retry-After and nextCheckSec of an accepted withdrawal. */
  WITHDRAWAL_POLL_AFTER_SEC: env.int(2, 1, 3_600),

  /** Internal commands over Kafka (@nestjs/microservices), handled idempotently through the inbox. */
  WALLET_COMMANDS_ENABLED: env.bool(true),
  WALLET_COMMANDS_TOPIC: kafkaName.default('sluice.wallet.commands'),
  WALLET_COMMANDS_DLQ_TOPIC: kafkaName.default('sluice.wallet.commands.dlq'),
  /** Used exactly as given: Nest's '-server' suffix is switched off. */
  WALLET_COMMANDS_GROUP_ID: kafkaName.default('sluice-command-api'),
  /** Partitions when the service creates the topics (commands are keyed by wallet). */
  WALLET_COMMANDS_PARTITIONS: env.int(12, 1, 10_000),
  WALLET_COMMANDS_ENSURE_TOPICS: env.bool(true),
  /** Attempts of a command failing for a passing reason before it goes to the dead-letter topic. */
  WALLET_COMMANDS_MAX_ATTEMPTS: env.int(5, 1, 100),
  /** Budget of one attempt of an internal command. */
  WALLET_COMMANDS_BUDGET_MS: env.int(2_000, 10, 60_000),
  /**
   * The issuers of internal commands: {"<issuer>": {"publicKey": "<Ed25519 PEM>", "commands": ["<type>", …]}}.
   * A command not signed by one of them, or of a type its issuer may not send, is dead-lettered.
   * Required outside development; without it in development every internal command is refused.
   */
  COMMAND_ISSUERS_FILE: z.string().min(1).optional(),

  /** The retention purge of idempotency keys and the inbox (docs/data-lifecycle.md). */
  ...purgeEnv,
  /** A client retrying a command within this long gets the first answer again; at least IDEMPOTENCY_MIN_RETENTION_HOURS. */
  IDEMPOTENCY_KEY_RETENTION_HOURS: retentionHours(48),
  /** How long a handled internal command's inbox row dedupes its redeliveries; see inboxOutlastsCommands. */
  INBOX_RETENTION_HOURS: retentionHours(14 * 24),
  /** retention.ms of the command topic: set when the service creates it, compared with the broker's at start-up. */
  WALLET_COMMANDS_RETENTION_HOURS: retentionHours(COMMAND_TOPIC_RETENTION_HOURS),
  /**
   * The furthest the internal command consumer may fall behind, and the longest a sender may go on
   * re-sending a command it has not seen take effect. Beyond it a redelivery may find its inbox row purged.
   */
  WALLET_COMMANDS_MAX_LAG_HOURS: retentionHours(24),
});

/** The documented promise: a client that retries a command within 24 hours gets the same answer. */
export const IDEMPOTENCY_MIN_RETENTION_HOURS = 24;

/**
 * An inbox row must outlive every copy of its command. A copy can be delivered for as long as it
 * stays in the command topic (its retention, counted from when it was appended), and the last
 * copy is appended at most the allowed lag after the first was handled (a sender re-sends only
 * while it has not seen the command take effect). So: inbox window > retention + max lag.
 */
export function inboxOutlastsCommands(c: {
  INBOX_RETENTION_HOURS: number;
  WALLET_COMMANDS_MAX_LAG_HOURS: number;
  topicRetentionHours: number;
}): string | undefined {
  const needed = c.topicRetentionHours + c.WALLET_COMMANDS_MAX_LAG_HOURS;
  if (c.INBOX_RETENTION_HOURS > needed) return undefined;
  return (
    `INBOX_RETENTION_HOURS (${c.INBOX_RETENTION_HOURS}) must exceed the command topic's retention ` +
    `(${c.topicRetentionHours} h) plus WALLET_COMMANDS_MAX_LAG_HOURS (${c.WALLET_COMMANDS_MAX_LAG_HOURS}), ` +
    `that is ${needed} h: a command redelivered after its inbox row is purged would take effect twice`
  );
}

export const commandApiConfig = commandApiSettings
  .refine(...metricsPortDiffers)
  .refine((c) => c.SLUICE_ENV === 'development' || !c.WALLET_COMMANDS_ENABLED || c.COMMAND_ISSUERS_FILE !== undefined, {
    message: 'COMMAND_ISSUERS_FILE is required outside development (SLUICE_ENV=production) while WALLET_COMMANDS_ENABLED',
  })
  .refine((c) => c.DB_STATEMENT_TIMEOUT_MS <= c.DB_IDLE_IN_TRANSACTION_TIMEOUT_MS, {
    message: 'DB_STATEMENT_TIMEOUT_MS must not exceed DB_IDLE_IN_TRANSACTION_TIMEOUT_MS',
  })
  .refine((c) => c.DB_ADMISSION_MIN_LIMIT <= c.DB_ADMISSION_MAX_LIMIT, {
    message: 'DB_ADMISSION_MIN_LIMIT must not exceed DB_ADMISSION_MAX_LIMIT',
  })
  .refine((c) => (c.COMMAND_GROUP_TRANSACTIONS ?? 1) <= c.DB_POOL_MAX, {
    message: 'COMMAND_GROUP_TRANSACTIONS must not exceed DB_POOL_MAX',
  })
  .refine((c) => c.CLIENT_BURST <= c.INGRESS_BURST && c.CLIENT_RATE_PER_SEC <= c.INGRESS_RATE_PER_SEC, {
    message: 'a client may not be allowed more than the whole service (CLIENT_* <= INGRESS_*)',
  })
  .refine((c) => c.KAFKA_HEARTBEAT_INTERVAL_MS * 3 <= c.KAFKA_SESSION_TIMEOUT_MS, {
    message: 'KAFKA_HEARTBEAT_INTERVAL_MS must be at most a third of KAFKA_SESSION_TIMEOUT_MS',
  })
  .refine((c) => c.CONSUMER_RETRY_BASE_MS <= c.CONSUMER_RETRY_MAX_MS, {
    message: 'CONSUMER_RETRY_BASE_MS must not exceed CONSUMER_RETRY_MAX_MS',
  })
  .refine((c) => c.WALLET_COMMANDS_TOPIC !== c.WALLET_COMMANDS_DLQ_TOPIC, {
    message: 'WALLET_COMMANDS_DLQ_TOPIC must differ from WALLET_COMMANDS_TOPIC',
  })
  .refine((c) => c.IDEMPOTENCY_KEY_RETENTION_HOURS >= IDEMPOTENCY_MIN_RETENTION_HOURS, {
    message: `IDEMPOTENCY_KEY_RETENTION_HOURS must be at least ${IDEMPOTENCY_MIN_RETENTION_HOURS}: a client retrying within 24 h must get the same answer`,
  })
  .superRefine((c, ctx) => {
    const problem = inboxOutlastsCommands({ ...c, topicRetentionHours: c.WALLET_COMMANDS_RETENTION_HOURS });
    if (problem) ctx.addIssue({ code: 'custom', message: problem, path: ['INBOX_RETENTION_HOURS'] });
  })
  .refine(...purgeTimeoutsOrdered)
  .superRefine(checkAuthEnv);

export type CommandApiConfig = z.infer<typeof commandApiConfig>;
