import {
  commonEnv,
  env,
  metricsEnv,
  metricsPortDiffers,
  purgeEnv,
  purgeTimeoutsOrdered,
  retentionHours,
  z,
} from '@sluice/config';
import { kafkaSecurityEnv } from '@sluice/messaging';

const GROUP_ID = z
  .string()
  .regex(/^[A-Za-z0-9._-]{1,200}$/)
  .default('sluice-projector-wallet');

/** Settings the live projector and its tools (rebuild, replay, dlq) share. */
export const projectorCommonEnv = {
  ...commonEnv,
  ...kafkaSecurityEnv,
  PROJECTOR_GROUP_ID: GROUP_ID,
  /** The projections this process runs, all in one consumer group and one transaction per batch. */
  PROJECTOR_PROJECTIONS: env.list('wallet,transactions,withdrawals'),
  /** Dead letters of the group; defaults to <PROJECTOR_GROUP_ID>.dlq. */
  PROJECTOR_DLQ_TOPIC: z
    .string()
    .regex(/^[a-zA-Z0-9._-]{1,249}$/)
    .optional(),
  /** Partitions of the event topic when the projector has to create it (it never changes an existing one). */
  PROJECTOR_TOPIC_PARTITIONS: env.int(12, 1, 10_000),
  DB_POOL_MAX: env.int(6, 2, 200),
  /** A batch is one transaction of a few multi-row statements. */
  DB_STATEMENT_TIMEOUT_MS: env.int(15_000, 10),
  DB_IDLE_IN_TRANSACTION_TIMEOUT_MS: env.int(30_000, 10),
  KAFKA_SESSION_TIMEOUT_MS: env.int(30_000, 6_000, 300_000),
  KAFKA_HEARTBEAT_INTERVAL_MS: env.int(3_000, 100),
  /** Read-model snapshots kept per projection (docs/snapshots.md); taking one drops the older ones. */
  PROJECTOR_SNAPSHOT_KEEP: env.int(3, 1, 100),
};

export const projectorConfig = z
  .object({
    ...projectorCommonEnv,
    /** Health and metrics only; the projector serves no other HTTP. */
    PORT: env.port(3011),
    ...metricsEnv,
    PROJECTOR_DLQ_PARTITIONS: env.int(1, 1, 1_000),
    PROJECTOR_PARTITIONS_CONCURRENTLY: env.int(4, 1, 256),
    PROJECTOR_MAX_BYTES_PER_PARTITION: env.int(1_048_576, 1_024, 64 * 1_048_576),
    KAFKA_FETCH_MAX_BYTES: env.int(10_485_760, 1_024, 256 * 1_048_576),
    /** Attempts at a batch before the event that makes a projection fail is parked (the last attempt isolates it). */
    PROJECTOR_RETRY_ATTEMPTS: env.int(5, 1, 50),
    PROJECTOR_RETRY_BASE_MS: env.int(100, 1),
    PROJECTOR_RETRY_MAX_MS: env.int(5_000, 1),
    /** Cap of the backoff while the database, broker or registry is down (retried without bound). */
    PROJECTOR_SYSTEMIC_RETRY_MAX_MS: env.int(30_000, 10),
    /** NOTIFY the query API of changed keys from each batch transaction (cache invalidation, read-your-writes). */
    PROJECTOR_NOTIFY: env.bool(true),
    /**
     * Off trades durability of the last commits for throughput: a database
     * crash loses them together with their checkpoints, and they are applied
     * again from Kafka. Readers may briefly see a version go back.
     */
    PROJECTOR_SYNCHRONOUS_COMMIT: env.bool(true),
    /**
     * Batches of fewer records than this, of partitions consumed concurrently, are applied in one
     * transaction (one BEGIN, resolution, NOTIFY and COMMIT); larger ones keep their own. 0 = never.
     */
    PROJECTOR_GROUP_MAX_RECORDS: env.int(256, 0, 100_000),
    /** Liveness fails when a partition with records waiting commits nothing for this long. */
    PROJECTOR_STALL_MS: env.int(120_000, 1_000),
    /** How often lag per partition is measured against the high watermarks (between batches, for stuck partitions). */
    PROJECTOR_LAG_INTERVAL_MS: env.int(5_000, 100),
    /** Longest a fetch waits for records; also the pause before the first fetch after an assignment. */
    KAFKA_FETCH_MAX_WAIT_MS: env.int(1_000, 10, 30_000),
    /** A fetch is answered once this many bytes wait (or the wait is over): above 1, fewer and fuller batches under load. */
    KAFKA_FETCH_MIN_BYTES: env.int(1, 1, 64 * 1_048_576),
    /**
     * Linger when busy (the consumer runtime's lingerMs): after a batch, the next fetch waits until
     * this long after the batch came, so moderate rates are applied in fewer, fuller transactions.
     * Shorter than the other consumers' default: it is on the path to the read model.
     */
    KAFKA_FETCH_LINGER_MS: env.int(20, 0, 5_000),
    MIGRATE_ON_START: env.bool(true),
    /** The retention purge of resolved parked records (docs/data-lifecycle.md). */
    ...purgeEnv,
    /** A parked record resolved (redriven or discarded) is kept this long after its resolution, for the record of what happened. */
    PARKED_RETENTION_HOURS: retentionHours(30 * 24),
    /**
     * How often each live projection's read model is snapshotted, so a rebuild replays only what came
     * after the newest snapshot (docs/snapshots.md); 0 = never. Keep it well under the topic's retention.
     * Needs a database role that may create schemas, which the projector's own role may not: off by
     * default, where `sluice projection snapshot` on a schedule does the job.
     */
    PROJECTOR_SNAPSHOT_INTERVAL_MS: env.int(0, 0),
  })
  .refine(...metricsPortDiffers)
  .refine(...purgeTimeoutsOrdered)
  .refine((c) => c.KAFKA_HEARTBEAT_INTERVAL_MS * 3 <= c.KAFKA_SESSION_TIMEOUT_MS, {
    message: 'KAFKA_HEARTBEAT_INTERVAL_MS must be at most a third of KAFKA_SESSION_TIMEOUT_MS',
  })
  .refine((c) => c.DB_POOL_MAX > c.PROJECTOR_PARTITIONS_CONCURRENTLY, {
    message:
      'DB_POOL_MAX must exceed PROJECTOR_PARTITIONS_CONCURRENTLY (one connection per batch in flight, plus one for probes)',
  })
  .refine((c) => c.DB_STATEMENT_TIMEOUT_MS <= c.DB_IDLE_IN_TRANSACTION_TIMEOUT_MS, {
    message: 'DB_STATEMENT_TIMEOUT_MS must not exceed DB_IDLE_IN_TRANSACTION_TIMEOUT_MS',
  })
  .refine((c) => c.PROJECTOR_RETRY_BASE_MS <= c.PROJECTOR_RETRY_MAX_MS, {
    message: 'PROJECTOR_RETRY_BASE_MS must not exceed PROJECTOR_RETRY_MAX_MS',
  })
  .refine((c) => c.PROJECTOR_PROJECTIONS.length > 0, { message: 'PROJECTOR_PROJECTIONS names no projection' });

export type ProjectorConfig = z.infer<typeof projectorConfig>;
