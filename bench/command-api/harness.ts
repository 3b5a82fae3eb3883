import {
  createTestDatabase,
  freePort,
  startService,
  testEnv,
  uniqueName,
  type ServiceProcess,
  type TestDatabase,
} from '@sluice/testing';

/** Reads `--name value` options with defaults; benches take a handful each. */
export function option(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const raw = i >= 0 ? process.argv[i + 1] : undefined;
  const value = raw === undefined ? def : Number(raw);
  if (!Number.isFinite(value)) throw new Error(`--${name} wants a number, got ${raw}`);
  return value;
}

export interface BenchEnv {
  db: TestDatabase;
  env: Record<string, string>;
  services: ServiceProcess[];
  start(name: string, extra?: Record<string, string>): Promise<ServiceProcess>;
  close(): Promise<void>;
}

/**
 * A throwaway database and unique topic, slot and group names, so a bench
 * runs next to `make up` and other runs without touching them; services are
 * the built ones (make build), each its own process.
 */
export async function benchEnv(label: string, overrides: Record<string, string> = {}): Promise<BenchEnv> {
  const db = await createTestDatabase(`bench_${label}`);
  const env: Record<string, string> = {
    DATABASE_URL: db.url,
    KAFKA_BROKERS: testEnv.kafkaBrokers.join(','),
    SCHEMA_REGISTRY_URL: testEnv.registryUrl,
    OUTBOX_TOPIC_PATTERN: `${uniqueName(`bench_${label}`)}.\${routedByValue}`,
    OUTBOX_SLOT_NAME: uniqueName('bench_slot').toLowerCase(),
    OUTBOX_PUBLICATION_NAME: uniqueName('bench_pub').toLowerCase(),
    PROJECTOR_GROUP_ID: uniqueName('bench_projector'),
    WALLET_COMMANDS_TOPIC: uniqueName('bench_wallet_commands'),
    WALLET_COMMANDS_DLQ_TOPIC: uniqueName('bench_wallet_commands_dlq'),
    WALLET_COMMANDS_GROUP_ID: uniqueName('bench_command_api'),
    LOG_LEVEL: 'warn',
    ...overrides,
  };
  const services: ServiceProcess[] = [];
  return {
    db,
    env,
    services,
    async start(name, extra = {}) {
      const service = startService(name, { ...env, ...extra }, await freePort());
      services.push(service);
      await service.waitReady(90_000);
      return service;
    },
    async close() {
      await Promise.all(services.map((s) => s.kill('SIGTERM')));
      await db.drop();
    },
  };
}
