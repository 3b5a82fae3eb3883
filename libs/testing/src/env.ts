import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { loadConfig, z } from '@sluice/config';
import { kafkaSecurityEnv, kafkaSecurityFrom, type KafkaSecurity } from '@sluice/messaging';
import { localKafkaCredentials } from '@sluice/platform';

export const START_HINT = 'start the local platform with `make infra-up` (make test does this itself)';

function repoRoot(): string {
  for (let dir = __dirname; dir !== dirname(dir); dir = dirname(dir)) {
    if (existsSync(join(dir, 'nx.json'))) return dir;
  }
  throw new Error(`no nx.json above ${__dirname}`);
}

const RUN_DIR = process.env.SLUICE_RUN_DIR ?? join(repoRoot(), '.run');

/** A file deploy/local/kafka.sh wrote under <run dir>/credentials (observer.properties, say). */
export function localCredentialsFile(name: string): string {
  return join(RUN_DIR, 'credentials', name);
}

/**
 * The file holding a registry user's URL, credentials included, when this checkout's registry
 * runs with basic authentication (deploy/local/registry.sh): sluice-release registers schemas,
 * sluice-services only reads them.
 */
export function localRegistryUrlFile(user: 'sluice-release' | 'sluice-services'): string | undefined {
  const file = join(RUN_DIR, 'registry', 'auth', `${user}.url`);
  return existsSync(file) ? file : undefined;
}

/** The registry's release user (it registers schemas, as the tests do), when the local registry has users. */
function localRegistryUrl(): string | undefined {
  const file = localRegistryUrlFile('sluice-release');
  return file && readFileSync(file, 'utf8').trim();
}

/** A principal's settings from this checkout's broker (deploy/local/kafka.sh), or undefined. */
export function localKafkaEnv(principal: string): Record<string, string> | undefined {
  return localKafkaCredentials(RUN_DIR, principal);
}

const KAFKA_KEYS = [
  'KAFKA_SECURITY_PROTOCOL',
  'KAFKA_SASL_MECHANISM',
  'KAFKA_SASL_USERNAME',
  'KAFKA_SASL_PASSWORD',
  'KAFKA_SASL_PASSWORD_FILE',
  'KAFKA_SSL_CA_FILE',
  'KAFKA_SSL_CERT_FILE',
  'KAFKA_SSL_KEY_FILE',
] as const;

/**
 * The administrator's Kafka settings: KAFKA_SECURITY_PROTOCOL and friends when the
 * environment sets them, else the admin principal's file from this checkout's broker,
 * else plaintext. KAFKA_BROKERS from the environment always wins.
 */
function adminKafkaEnv(): Record<string, string> {
  const fromEnvironment = process.env.KAFKA_SECURITY_PROTOCOL !== undefined;
  const settings: Record<string, string> = {};
  if (fromEnvironment) {
    for (const key of KAFKA_KEYS) if (process.env[key] !== undefined) settings[key] = process.env[key];
  } else Object.assign(settings, localKafkaEnv('admin'));
  settings.KAFKA_BROKERS = process.env.KAFKA_BROKERS ?? settings.KAFKA_BROKERS ?? '127.0.0.1:9092';
  return settings;
}

/** A principal's connection settings, read (files included) as a service reads its own. */
export function kafkaSecurityOf(settings: Record<string, string>): KafkaSecurity {
  return kafkaSecurityFrom(loadConfig(z.object(kafkaSecurityEnv), settings));
}

const kafkaEnv = adminKafkaEnv();
const kafkaBrokers = kafkaEnv.KAFKA_BROKERS!.split(',');
const kafkaSecurity = kafkaSecurityOf(kafkaEnv);

/**
 * Where the test suites find the real services. `make test` starts them; the
 * defaults match deploy/local. Tests never skip when a service is missing:
 * they fail, saying how to start it.
 */
export const testEnv = {
  databaseUrl: process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
  /** The CA of PostgreSQL's TLS certificate (deploy/local/postgres.sh writes it). */
  postgresCaFile: process.env.DATABASE_SSL_CA_FILE ?? join(RUN_DIR, 'postgres-tls', 'ca.crt'),
  kafkaBrokers,
  /** The admin principal's connection: spread into createKafka's options. */
  kafka: { brokers: kafkaBrokers, security: kafkaSecurity },
  /** The same as environment variables, for services a test starts or configures. */
  kafkaEnv,
  registryUrl: process.env.SCHEMA_REGISTRY_URL ?? localRegistryUrl() ?? 'http://127.0.0.1:8085/apis/ccompat/v7',
};

/** The connection of one of the platform's principals (deploy/local/kafka.sh makes them); fails when there is none. */
export function kafkaPrincipal(principal: string): { brokers: string[]; security: KafkaSecurity } {
  const settings = localKafkaEnv(principal);
  if (!settings) throw new Error(`no credentials for the Kafka principal ${principal} in ${RUN_DIR}/credentials: ${START_HINT}`);
  return { brokers: kafkaBrokers, security: kafkaSecurityOf(settings) };
}
