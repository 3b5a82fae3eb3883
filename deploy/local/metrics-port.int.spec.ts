import { createKafka, ensureTopics, routeTopic } from '@sluice/messaging';
import { createLogger } from '@sluice/observability';
import {
  createTestDatabase,
  freePort,
  startService,
  testEnv,
  testIssuer,
  uniqueName,
  type ServiceProcess,
  type TestDatabase,
} from '@sluice/testing';

/**
 * METRICS_PORT as production sets it (deploy/k8s/base/config.yaml): each built service, started as
 * its own process, serves /metrics on that port and answers it 404 on its API port, where health
 * stays. One service of each kind of listener: a NestJS API (command API, query API), the plain
 * ops server (relay, projector), the payments worker's webhook server, the bonus service and the
 * simulator.
 */
let db: TestDatabase;
const services: { process: ServiceProcess; metricsPort: number }[] = [];

beforeAll(async () => {
  db = await createTestDatabase('metrics_port');
  const pattern = `${uniqueName('metrics')}.\${routedByValue}`;
  const kafka = createKafka({ ...testEnv.kafka, clientId: 'metrics-port-int', logger: createLogger('metrics-port', 'warn') });
  const commandTopic = uniqueName('metrics_wallet_commands');
  // The command topic, which the bonus service sends to (the command API, its consumer off here, makes none).
  await ensureTopics(kafka, [
    { topic: routeTopic(pattern, 'wallet'), partitions: 3, retainForever: true },
    { topic: commandTopic, partitions: 1 },
  ]);
  const env = {
    ...testIssuer().env(),
    DATABASE_URL: db.url,
    ...testEnv.kafkaEnv,
    SCHEMA_REGISTRY_URL: testEnv.registryUrl,
    OUTBOX_TOPIC_PATTERN: pattern,
    OUTBOX_SLOT_NAME: uniqueName('slot').toLowerCase(),
    OUTBOX_PUBLICATION_NAME: uniqueName('pub').toLowerCase(),
    PROJECTOR_GROUP_ID: uniqueName('projector'),
    PAYMENTS_GROUP_ID: uniqueName('payments'),
    BONUS_GROUP_ID: uniqueName('bonus'),
    WALLET_COMMANDS_TOPIC: commandTopic,
    WALLET_COMMANDS_DLQ_TOPIC: uniqueName('metrics_wallet_commands_dlq'),
    WALLET_COMMANDS_ENABLED: 'false',
    EVENT_LOOP_MAX_DELAY_MS: '0',
    LOG_LEVEL: 'warn',
  };
  const start = async (name: string, extra: Record<string, string> = {}) => {
    const metricsPort = await freePort();
    const process = startService(name, { ...env, ...extra, METRICS_PORT: String(metricsPort) }, await freePort());
    services.push({ process, metricsPort });
    return process;
  };
  // The command API first: it migrates the tables and makes the outbox's slot the relay reads.
  await (await start('command-api')).waitReady();
  const psp = await start('psp-simulator', { PSP_WEBHOOK_URL: '' });
  await Promise.all([
    start('query-api'),
    start('outbox-relay'),
    start('projector'),
    start('payments-worker', { PSP_URL: psp.url }),
    start('bonus-service'),
  ]);
  await Promise.all(services.map((s) => s.process.waitReady(90_000)));
  // Longer than the command API's start-up plus the others' 90 s: seven JIT-cold processes on a busy CI machine.
}, 240_000);

afterAll(async () => {
  await Promise.all(services.map((s) => s.process.kill('SIGTERM')));
  await db?.drop();
});

describe('METRICS_PORT', () => {
  it.each(['command-api', 'query-api', 'outbox-relay', 'projector', 'payments-worker', 'bonus-service', 'psp-simulator'])(
    '%s serves /metrics on its metrics port only, health on its API port',
    async (name) => {
      const service = services.find((s) => s.process.name === name)!;
      const scrape = await fetch(`http://127.0.0.1:${service.metricsPort}/metrics`);
      expect(scrape.status).toBe(200);
      expect(await scrape.text()).toContain(`service="${name}"`);
      expect((await fetch(`${service.process.url}/metrics`)).status).toBe(404);
      expect((await fetch(`${service.process.url}/health/live`)).status).toBe(200);
      // The metrics listener is for Prometheus alone: no health routes, no API.
      expect((await fetch(`http://127.0.0.1:${service.metricsPort}/health/ready`)).status).toBe(404);
    },
  );
});
