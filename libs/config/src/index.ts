import { z } from 'zod';
import { SluiceError } from '@sluice/core';
import {
  DEPLOYMENT_ENVIRONMENTS,
  SECRET_SETTINGS,
  productionSecretProblems,
  readSecretFiles,
  withVerifiedTls,
  type SecretRule,
} from './secrets';

export { z };
export * from './secrets';
export * from './retention';

export class ConfigError extends SluiceError<'invalid_config'> {
  constructor(readonly problems: string[]) {
    super('invalid_config', `invalid configuration:\n  - ${problems.join('\n  - ')}`);
  }
}

/**
 * Switches on by default in local development only: in production, unless set,
 * they are false, and the release steps (sluice db roles, sluice migrate,
 * sluice schemas register) do their work with the privileges it needs.
 */
export const DEVELOPMENT_CONVENIENCES: readonly string[] = ['MIGRATE_ON_START', 'OUTBOX_ENSURE_SLOT', 'SCHEMA_AUTO_REGISTER'];

export interface LoadConfigOptions {
  /** Secret settings beyond SECRET_SETTINGS, with their production rule. */
  secrets?: Readonly<Record<string, SecretRule>>;
}

/**
 * Parses the environment once, at start-up, against a schema that holds every
 * default and cross-field rule. Everything below the entry point receives the
 * typed result; nothing else reads process.env.
 *
 * Secret settings may come from files (X_FILE beside X). With
 * SLUICE_ENV=production, a secret that is missing or still a development
 * default is a problem like any other, so the service refuses to start.
 */
export function loadConfig<S extends z.ZodType>(
  schema: S,
  source: Record<string, string | undefined> = process.env,
  options: LoadConfigOptions = {},
): z.infer<S> {
  const rules = { ...SECRET_SETTINGS, ...options.secrets };
  const problems: string[] = [];
  const resolved = readSecretFiles(source, Object.keys(rules), problems);
  const production = isProduction(resolved.SLUICE_ENV);
  if (production) {
    for (const name of DEVELOPMENT_CONVENIENCES)
      if (resolved[name] === undefined || resolved[name] === '') resolved[name] = 'false';
  }
  const result = schema.safeParse(resolved);
  if (!result.success) {
    problems.push(...result.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`));
  }
  // The secrets are judged even when another setting is wrong: one start-up lists every problem.
  const config = result.success ? (result.data as Record<string, unknown>) : settingsOf(schema, resolved, Object.keys(rules));
  const caFile = config.DATABASE_SSL_CA_FILE;
  if (typeof caFile === 'string' && typeof config.DATABASE_URL === 'string') {
    try {
      config.DATABASE_URL = withVerifiedTls(config.DATABASE_URL, caFile);
    } catch (err) {
      problems.push(`DATABASE_SSL_CA_FILE: ${(err as Error).message}`);
    }
  }
  if (production) problems.push(...productionSecretProblems(config, rules));
  if (problems.length > 0) throw new ConfigError(problems);
  return result.data as z.infer<S>;
}

/** The named settings (and DATABASE_SSL_CA_FILE) parsed one by one, defaults applied, where the schema is an object. */
function settingsOf(schema: z.ZodType, resolved: Record<string, string | undefined>, names: string[]): Record<string, unknown> {
  const shape = (schema as { shape?: Record<string, z.ZodType> }).shape;
  const out: Record<string, unknown> = {};
  if (!shape) return out;
  for (const name of [...names, 'DATABASE_SSL_CA_FILE']) {
    const field = shape[name];
    const parsed = field?.safeParse(resolved[name]);
    if (parsed?.success) out[name] = parsed.data;
  }
  return out;
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

/**
 * Distributed tracing (OpenTelemetry, W3C trace context), the same in every process. none records
 * no span (a caller's traceparent still reaches the outbox and Kafka); zipkin sends to a Zipkin
 * server (make up runs one); otlp to an OpenTelemetry collector, as production does. Sampling is
 * parent-based: a trace a caller started keeps the caller's decision, new traces are recorded at
 * TRACING_SAMPLE_RATIO.
 */
export const tracingEnv = {
  /** Where spans go: none (no span recorded; a caller's traceparent still passes on), zipkin, or otlp (a collector, as in production). */
  TRACING_EXPORTER: z.enum(['none', 'zipkin', 'otlp']).default('none'),
  /** Zipkin's http://host:9411/api/v2/spans or the collector's http://host:4318/v1/traces; unset, the local default of each. */
  TRACING_ENDPOINT: z.string().url().optional(),
  /** Share of new traces recorded (parent-based: a caller's traceparent keeps the caller's decision). */
  TRACING_SAMPLE_RATIO: z.coerce.number().min(0).max(1).default(0.1),
};

/** The tracing settings of a parsed configuration, as libs/observability's createTracing takes them. */
export function tracingSettingsOf(config: {
  TRACING_EXPORTER: 'none' | 'zipkin' | 'otlp';
  TRACING_ENDPOINT?: string | undefined;
  TRACING_SAMPLE_RATIO: number;
}): { exporter: 'none' | 'zipkin' | 'otlp'; endpoint?: string; sampleRatio: number } {
  return {
    exporter: config.TRACING_EXPORTER,
    ...(config.TRACING_ENDPOINT !== undefined && { endpoint: config.TRACING_ENDPOINT }),
    sampleRatio: config.TRACING_SAMPLE_RATIO,
  };
}

/**
 * Where a service serves /metrics, for every service that serves it. Unset (the default, and what
 * `make up` runs), /metrics is served on PORT beside the API and the health routes, as one listener.
 * Set (production: deploy/k8s sets 9464 in the ConfigMap every service reads), /metrics is served
 * on a listener of its own on that port and nowhere else: PORT answers it 404, so a client that
 * reaches the API port cannot read the metrics, and a network policy can admit Prometheus to this
 * port alone.
 */
export const metricsEnv = {
  /** A port of its own for /metrics (Prometheus); PORT then answers /metrics 404. Unset, /metrics is served on PORT. */
  METRICS_PORT: z.coerce.number().int().min(1).max(65535).optional(),
};

/** One listener cannot be both: add with `.refine(...metricsPortDiffers)` to a schema with PORT and metricsEnv. */
export const metricsPortDiffers = [
  (c: { PORT: number; METRICS_PORT?: number | undefined }) => c.METRICS_PORT === undefined || c.METRICS_PORT !== c.PORT,
  { message: 'METRICS_PORT must differ from PORT (unset it to serve /metrics on PORT)', path: ['METRICS_PORT'] as string[] },
] as const;

/** Settings every Sluice process shares; services extend this object. */
export const commonEnv = {
  /**
   * Where the process runs: production (the default, so a deployment that forgets it is held to
   * production's rules) or development, which only the local platform, its scripts and the
   * tests set. In production, secrets must be set and not development defaults, and insecure
   * transports and unauthenticated set-ups are refused.
   */
  SLUICE_ENV: z.enum(DEPLOYMENT_ENVIRONMENTS).default('production'),
  LOG_LEVEL: env.logLevel(),
  HOST: z.string().default('127.0.0.1'),
  /** A secret (DATABASE_URL_FILE): in production, the service's own role with its password, sslmode=verify-full. */
  DATABASE_URL: env.url('postgres://postgres@127.0.0.1:5432/sluice'),
  /**
   * The CA that signed PostgreSQL's certificate: when set, DATABASE_URL gets
   * sslmode=verify-full&sslrootcert=<this file> (the certificate and the host name are verified).
   */
  DATABASE_SSL_CA_FILE: z.string().min(1).optional(),
  KAFKA_BROKERS: env.list('127.0.0.1:9092'),
  SCHEMA_REGISTRY_URL: env.url('http://127.0.0.1:8085/apis/ccompat/v7'),
  /** Debezium's route.topic.replacement; ${routedByValue} is the aggregatetype. */
  OUTBOX_TOPIC_PATTERN: z.string().default('outbox.event.${routedByValue}'),
  SHUTDOWN_DEADLINE_MS: env.int(10_000, 100),
  ...tracingEnv,
};

/** The HTTP server of a service that takes client traffic (see libs/http's boundConnections). */
export const httpServerEnv = {
  /** Client connections served at once; more are closed as they are accepted. 0 = unbounded. */
  HTTP_MAX_CONNECTIONS: env.int(2_048, 0, 1_000_000),
  /** Above the edge proxy's upstream keep-alive (4 s), so the proxy closes idle connections first. */
  HTTP_KEEP_ALIVE_TIMEOUT_MS: env.int(5_000, 100, 600_000),
  HTTP_HEADERS_TIMEOUT_MS: env.int(10_000, 100, 600_000),
  HTTP_REQUEST_TIMEOUT_MS: env.int(30_000, 100, 3_600_000),
  /** One log line per request (request id, route, status, duration); health checks and scrapes are left out. */
  HTTP_ACCESS_LOG: env.bool(true),
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
  /**
   * Linger when busy: after a batch with records the consumer waits until this long after
   * its arrival before it fetches again, so at moderate rates one fetch, batch and
   * transaction carries many records instead of one each. A record waits at most this
   * much more; the first after a quiet spell, not at all. 0 turns it off.
   */
  KAFKA_FETCH_LINGER_MS: env.int(50, 0, 5_000),
  KAFKA_PARTITIONS_CONCURRENTLY: env.int(4, 1, 256),
  /**
   * Offsets are committed to Kafka at most this often, all partitions' in one request, not after
   * every batch. The runtime's consumers are idempotent (inbox, keyed inserts), so after a crash
   * the records of at most this long are handled again without a second effect. 0: every batch.
   */
  KAFKA_COMMIT_INTERVAL_MS: env.int(1_000, 0, 60_000),
  /** A member that sends no heartbeat this long is dropped from its group (its partitions move on). */
  KAFKA_SESSION_TIMEOUT_MS: env.int(30_000, 6_000, 300_000),
  KAFKA_HEARTBEAT_INTERVAL_MS: env.int(3_000, 100),
  /** Tries of a record that fails for a passing reason before it goes to the dead-letter topic. */
  CONSUMER_RETRY_ATTEMPTS: env.int(5, 1, 100),
  /** Full-jitter backoff between those tries (and while the registry or database is down, without end). */
  CONSUMER_RETRY_BASE_MS: env.int(100, 1),
  CONSUMER_RETRY_MAX_MS: env.int(5_000, 1),
};

/** Unset is production: only an explicit SLUICE_ENV=development relaxes production's rules. */
export function isProduction(sluiceEnv: string | undefined): boolean {
  return sluiceEnv !== 'development';
}
