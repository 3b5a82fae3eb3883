import { join } from 'node:path';

/**
 * Where the test suites find the real services. `make test` starts them; the
 * defaults match deploy/local. Tests never skip when a service is missing:
 * they fail, saying how to start it.
 */
export const testEnv = {
  databaseUrl: process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
  /** The CA of PostgreSQL's TLS certificate (deploy/local/postgres.sh writes it). */
  postgresCaFile: process.env.DATABASE_SSL_CA_FILE ?? join(__dirname, '../../../.run/postgres-tls/ca.crt'),
  kafkaBrokers: (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(','),
  registryUrl: process.env.SCHEMA_REGISTRY_URL ?? 'http://127.0.0.1:8085/apis/ccompat/v7',
};

export const START_HINT = 'start the local platform with `make infra-up` (make test does this itself)';
