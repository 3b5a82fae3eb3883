import { commonEnv, env, z } from '@sluice/config';

/**
 * The query API owns no tables: it reads the read models the projector
 * migrates and fills, so it has no MIGRATE_ON_START.
 */
export const queryApiConfig = z
  .object({
    ...commonEnv,
    PORT: env.port(3001),
    DB_POOL_MAX: env.int(10, 1, 200),
    /** Server-side caps; a read is one primary-key lookup. */
    DB_STATEMENT_TIMEOUT_MS: env.int(300, 10),
    DB_IDLE_IN_TRANSACTION_TIMEOUT_MS: env.int(1_000, 10),
  })
  .refine((c) => c.DB_STATEMENT_TIMEOUT_MS <= c.DB_IDLE_IN_TRANSACTION_TIMEOUT_MS, {
    message: 'DB_STATEMENT_TIMEOUT_MS must not exceed DB_IDLE_IN_TRANSACTION_TIMEOUT_MS',
  });

export type QueryApiConfig = z.infer<typeof queryApiConfig>;
