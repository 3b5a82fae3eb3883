import { z } from 'zod';
import { SluiceError } from '@sluice/core';

export { z };

export class ConfigError extends SluiceError<'invalid_config'> {
  constructor(readonly problems: string[]) {
    super('invalid_config', `invalid configuration:\n  - ${problems.join('\n  - ')}`);
  }
}

/**
 * Parses the environment once, at start-up, against a schema that holds every
 * default and cross-field rule. Everything below the entry point receives the
 * typed result; nothing else reads process.env.
 */
export function loadConfig<S extends z.ZodType>(schema: S, env: Record<string, string | undefined> = process.env): z.infer<S> {
  const result = schema.safeParse(env);
  if (!result.success) {
    throw new ConfigError(result.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`));
  }
  return result.data;
}

/** Environment values arrive as strings: these coerce and bound them. */
export const env = {
  port: (def: number) => z.coerce.number().int().min(0).max(65535).default(def),
  int: (def: number, min = 0, max = Number.MAX_SAFE_INTEGER) => z.coerce.number().int().min(min).max(max).default(def),
  number: (def: number, min = 0) => z.coerce.number().min(min).default(def),
  bool: (def: boolean) =>
    z
      .enum(['true', 'false', '1', '0', 'yes', 'no'])
      .default(def ? 'true' : 'false')
      .transform((v) => v === 'true' || v === '1' || v === 'yes'),
  list: (def: string) =>
    z
      .string()
      .default(def)
      .transform((s) =>
        s
          .split(',')
          .map((x) => x.trim())
          .filter(Boolean),
      ),
  url: (def: string) => z.string().url().default(def),
  logLevel: () => z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
};

/** Settings every Sluice process shares; services extend this object. */
export const commonEnv = {
  LOG_LEVEL: env.logLevel(),
  HOST: z.string().default('127.0.0.1'),
  DATABASE_URL: env.url('postgres://postgres@127.0.0.1:5432/sluice'),
  KAFKA_BROKERS: env.list('127.0.0.1:9092'),
  SCHEMA_REGISTRY_URL: env.url('http://127.0.0.1:8085/apis/ccompat/v7'),
  /** Debezium's route.topic.replacement; ${routedByValue} is the aggregatetype. */
  OUTBOX_TOPIC_PATTERN: z.string().default('outbox.event.${routedByValue}'),
  SHUTDOWN_DEADLINE_MS: env.int(10_000, 100),
};

/** The HTTP server of a service that takes client traffic (see libs/http's boundConnections). */
export const httpServerEnv = {
  /** Client connections served at once; more are closed as they are accepted. 0 = unbounded. */
  HTTP_MAX_CONNECTIONS: env.int(2_048, 0, 1_000_000),
  /** Above the edge proxy's upstream keep-alive (4 s), so the proxy closes idle connections first. */
  HTTP_KEEP_ALIVE_TIMEOUT_MS: env.int(5_000, 100, 600_000),
  HTTP_HEADERS_TIMEOUT_MS: env.int(10_000, 100, 600_000),
  HTTP_REQUEST_TIMEOUT_MS: env.int(30_000, 100, 3_600_000),
};

/** Where the outbox lives and how the relay reads it; writers in WAL mode ensure the slot too. */
export const outboxEnv = {
  OUTBOX_TABLE: z
    .string()
    .regex(/^([a-z_][a-z0-9_]*\.)?[a-z_][a-z0-9_]*$/)
    .default('public.outbox')
    .transform((t) => {
      const [a, b] = t.split('.');
      return b === undefined ? { schema: 'public', name: a! } : { schema: a!, name: b };
    }),
  OUTBOX_SLOT_NAME: z
    .string()
    .regex(/^[a-z0-9_]{1,63}$/, 'lower-case letters, digits and _')
    .default('sluice_outbox'),
  OUTBOX_PUBLICATION_NAME: z
    .string()
    .regex(/^[a-z0-9_]{1,63}$/, 'lower-case letters, digits and _')
    .default('sluice_outbox'),
};

/**
 * How a consumer fetches and how many partitions it works on at once, for
 * services on the consumer runtime (FetchSettings in @sluice/messaging).
 * A fetch is answered once KAFKA_FETCH_MIN_BYTES are there or
 * KAFKA_FETCH_MAX_WAIT_MS passed: a larger minimum makes fewer, fuller
 * batches under load at the price of up to the wait when quiet.
 */
export const consumerEnv = {
  KAFKA_FETCH_MIN_BYTES: env.int(1, 1, 64 * 1_048_576),
  KAFKA_FETCH_MAX_WAIT_MS: env.int(500, 10, 30_000),
  KAFKA_PARTITIONS_CONCURRENTLY: env.int(4, 1, 256),
  /** A member that sends no heartbeat this long is dropped from its group (its partitions move on). */
  KAFKA_SESSION_TIMEOUT_MS: env.int(30_000, 6_000, 300_000),
  KAFKA_HEARTBEAT_INTERVAL_MS: env.int(3_000, 100),
  /** Tries of a record that fails for a passing reason before it goes to the dead-letter topic. */
  CONSUMER_RETRY_ATTEMPTS: env.int(5, 1, 100),
  /** Full-jitter backoff between those tries (and while the registry or database is down, without end). */
  CONSUMER_RETRY_BASE_MS: env.int(100, 1),
  CONSUMER_RETRY_MAX_MS: env.int(5_000, 1),
};

/**
 * Where a process runs. Anything but local development needs its secrets
 * and keys configured: a service without them refuses to start.
 */
export const deploymentEnv = {
  SLUICE_ENV: z.enum(['development', 'production']).default('production'),
};
