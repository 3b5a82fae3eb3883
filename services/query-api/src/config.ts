import { authEnv, checkAuthEnv } from '@sluice/auth';
import { commonEnv, env, httpServerEnv, metricsEnv, metricsPortDiffers, z } from '@sluice/config';

/**
 * The query API owns no tables: it reads the read models the projector
 * migrates and fills (through their views in public), so it has no
 * MIGRATE_ON_START.
 */
export const queryApiConfig = z
  .object({
    ...commonEnv,
    ...httpServerEnv,
    /** Bearer-token authentication of every endpoint but health and metrics, streams included (@sluice/auth). */
    ...authEnv,
    PORT: env.port(3001),
    ...metricsEnv,
    DB_POOL_MAX: env.int(10, 1, 200),
    /** Server-side caps; a read is one index lookup or range scan. */
    DB_STATEMENT_TIMEOUT_MS: env.int(300, 10),
    DB_IDLE_IN_TRANSACTION_TIMEOUT_MS: env.int(1_000, 10),
    /** How long a cached read-model row is served at most; the projector's notifications drop changed ones sooner. 0 disables caching. */
    QUERY_CACHE_TTL_MS: env.int(2_000, 0, 60_000),
    QUERY_CACHE_MAX_ENTRIES: env.int(10_000, 1),
    /** The longest a ?minVersion= read waits for the read model (clients may ask for less with Prefer: wait=N). */
    QUERY_MIN_VERSION_WAIT_MS: env.int(2_000, 0, 30_000),
    /** Reads waiting at once; beyond it they answer at once (stale). */
    QUERY_MAX_WAITERS: env.int(10_000, 1),
    /** How often the read models' lag is re-read from the projector's checkpoints. */
    QUERY_FRESHNESS_REFRESH_MS: env.int(1_000, 50, 60_000),
    /** Retry-After on a withdrawal still processing, seconds. */
    QUERY_WITHDRAWAL_RETRY_AFTER_S: env.int(1, 1, 3_600),
    /** Status push (SSE, WebSocket), per connection: queued messages at most, messages per second and burst. */
    QUERY_STREAM_QUEUE: env.int(64, 1, 10_000),
    QUERY_STREAM_RATE_PER_SEC: env.number(20, 0.1),
    QUERY_STREAM_BURST: env.int(20, 1),
    QUERY_STREAM_HEARTBEAT_MS: env.int(15_000, 100),
    QUERY_STREAM_MAX_SUBSCRIPTIONS: env.int(100, 1),
    QUERY_STREAM_MAX_CONNECTIONS: env.int(10_000, 1),
    /** Of those, one principal's at once; more are refused (429). */
    QUERY_STREAM_MAX_CONNECTIONS_PER_PRINCIPAL: env.int(20, 1),
    /** A stream of a withdrawal the read model does not know is ended after this. */
    QUERY_STREAM_NOT_FOUND_MS: env.int(10_000, 100),
  })
  .refine(...metricsPortDiffers)
  .refine((c) => c.DB_STATEMENT_TIMEOUT_MS <= c.DB_IDLE_IN_TRANSACTION_TIMEOUT_MS, {
    message: 'DB_STATEMENT_TIMEOUT_MS must not exceed DB_IDLE_IN_TRANSACTION_TIMEOUT_MS',
  })
  .refine((c) => c.QUERY_STREAM_MAX_CONNECTIONS_PER_PRINCIPAL <= c.QUERY_STREAM_MAX_CONNECTIONS, {
    message: 'QUERY_STREAM_MAX_CONNECTIONS_PER_PRINCIPAL must not exceed QUERY_STREAM_MAX_CONNECTIONS',
  })
  .superRefine(checkAuthEnv);

export type QueryApiConfig = z.infer<typeof queryApiConfig>;
