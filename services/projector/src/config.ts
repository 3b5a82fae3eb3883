import { commonEnv, env, z } from '@sluice/config';

export const projectorConfig = z
  .object({
    ...commonEnv,
    /** Health and metrics only; the projector serves no other HTTP. */
    PORT: env.port(3011),
    PROJECTOR_GROUP_ID: z
      .string()
      .regex(/^[A-Za-z0-9._-]{1,255}$/)
      .default('sluice-projector-wallet'),
    /** Partitions of the event topic when the projector has to create it (it never changes an existing one). */
    PROJECTOR_TOPIC_PARTITIONS: env.int(12, 1, 10_000),
    PROJECTOR_PARTITIONS_CONCURRENTLY: env.int(4, 1, 256),
    PROJECTOR_MAX_BYTES_PER_PARTITION: env.int(1_048_576, 1_024, 64 * 1_048_576),
    /** Liveness fails when a partition with records waiting commits nothing for this long. */
    PROJECTOR_STALL_MS: env.int(120_000, 1_000),
    /** Longest a fetch waits for records; also the pause before the first fetch after an assignment. */
    KAFKA_FETCH_MAX_WAIT_MS: env.int(1_000, 10, 30_000),
    KAFKA_SESSION_TIMEOUT_MS: env.int(30_000, 6_000, 300_000),
    KAFKA_HEARTBEAT_INTERVAL_MS: env.int(3_000, 100),
    DB_POOL_MAX: env.int(6, 2, 200),
    /** A batch is one transaction of a few multi-row statements. */
    DB_STATEMENT_TIMEOUT_MS: env.int(15_000, 10),
    DB_IDLE_IN_TRANSACTION_TIMEOUT_MS: env.int(30_000, 10),
    MIGRATE_ON_START: env.bool(true),
  })
  .refine((c) => c.KAFKA_HEARTBEAT_INTERVAL_MS * 3 <= c.KAFKA_SESSION_TIMEOUT_MS, {
    message: 'KAFKA_HEARTBEAT_INTERVAL_MS must be at most a third of KAFKA_SESSION_TIMEOUT_MS',
  })
  .refine((c) => c.DB_POOL_MAX > c.PROJECTOR_PARTITIONS_CONCURRENTLY, {
    message:
      'DB_POOL_MAX must exceed PROJECTOR_PARTITIONS_CONCURRENTLY (one connection per batch in flight, plus one for probes)',
  })
  .refine((c) => c.DB_STATEMENT_TIMEOUT_MS <= c.DB_IDLE_IN_TRANSACTION_TIMEOUT_MS, {
    message: 'DB_STATEMENT_TIMEOUT_MS must not exceed DB_IDLE_IN_TRANSACTION_TIMEOUT_MS',
  });

export type ProjectorConfig = z.infer<typeof projectorConfig>;
