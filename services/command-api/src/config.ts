import { commonEnv, env, outboxEnv, z } from '@sluice/config';

export const commandApiConfig = z
  .object({
    ...commonEnv,
    ...outboxEnv,
    /** In WAL mode, create the outbox's publication and slot at start-up if missing (needs the REPLICATION privilege). */
    OUTBOX_ENSURE_SLOT: env.bool(true),
    PORT: env.port(3000),
    DB_POOL_MAX: env.int(10, 1, 200),
    /** Server-side caps; shorter than the request deadline. */
    DB_STATEMENT_TIMEOUT_MS: env.int(300, 10),
    DB_IDLE_IN_TRANSACTION_TIMEOUT_MS: env.int(1_000, 10),
    HTTP_BODY_LIMIT_BYTES: env.int(16 * 1024, 256, 1024 * 1024),
    OUTBOX_MODE: z.enum(['wal', 'polling']).default('wal'),
    /** Optimistic-concurrency retries before answering 409. */
    COMMAND_CONFLICT_RETRIES: env.int(5, 0, 50),
    MIGRATE_ON_START: env.bool(true),
  })
  .refine((c) => c.DB_STATEMENT_TIMEOUT_MS <= c.DB_IDLE_IN_TRANSACTION_TIMEOUT_MS, {
    message: 'DB_STATEMENT_TIMEOUT_MS must not exceed DB_IDLE_IN_TRANSACTION_TIMEOUT_MS',
  });

export type CommandApiConfig = z.infer<typeof commandApiConfig>;
