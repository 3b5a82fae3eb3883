import { setPriority } from 'node:os';
import { errorMessage } from '@sluice/core';
import {
  createTestDatabase,
  freePort,
  startService,
  testIssuer,
  testEnv,
  uniqueName,
  type ServiceProcess,
  type TestDatabase,
} from '@sluice/testing';

export { option, textOption } from '../options';

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
    ...testIssuer().env(),
    DATABASE_URL: db.url,
    ...testEnv.kafkaEnv,
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

/**
 * The command API alone, as the throughput bench runs it (start it in a
 * benchEnv with WALLET_COMMANDS_ENABLED=false): the outbox in WAL mode without
 * a slot (no relay: the WAL is written as in production and nothing retains
 * it), no lag shedding, rate limits out of the way; `pool` connections.
 */
export function aloneApiEnv(pool: number): Record<string, string> {
  return {
    DB_POOL_MAX: String(pool),
    OUTBOX_ENSURE_SLOT: 'false',
    SHED_RELAY_LAG_BYTES: '0',
    SHED_RETAINED_WAL_BYTES: '0',
    INGRESS_RATE_PER_SEC: '1000000',
    INGRESS_BURST: '100000',
    CLIENT_RATE_PER_SEC: '1000000',
    CLIENT_BURST: '100000',
  };
}

/**
 * The load generator stands in for clients on other machines, so it must send
 * on schedule and read answers at once even when the services saturate the
 * cores they share with it: call this once they are started (they keep the
 * default priority), and the generator's thread runs at nice -10. Without it
 * the generator's own waiting for a core shows as the services' latency. Needs
 * root or CAP_SYS_NICE; without them the run goes on and says so. Resolves a
 * function that puts the priority back (before running a tool such as pgbench
 * that must compete on equal terms).
 */
export function generatorFirst(): () => void {
  try {
    setPriority(-10);
  } catch (err) {
    process.stderr.write(
      `could not raise the generator's priority (${errorMessage(err)}); its own waiting will show in the figures\n`,
    );
  }
  return () => {
    try {
      setPriority(0);
    } catch {
      // never raised
    }
  };
}
