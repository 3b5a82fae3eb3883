import type { Kafka } from 'kafkajs';
import { createKafka, ensureTopics } from '@sluice/messaging';
import { createLogger } from '@sluice/observability';
import { aclPlan, applyAcls, namespaceEnv, platformKafkaNames, removeAcls, type PlatformKafkaNames } from '@sluice/platform';
import {
  createTestDatabase,
  freePort,
  localKafkaEnv,
  startService,
  testEnv,
  testIssuer,
  uniqueName,
  waitFor,
  type ServiceProcess,
  type TestDatabase,
} from '@sluice/testing';

/**
 * The services as `make up` runs them on the secured broker: each connects as its own
 * principal with only the grants of `sluice acls apply`, and a deposit still travels
 * command API → relay → Kafka → projector → query API, the welcome bonus through the
 * bonus service and the command topic, and a withdrawal is paid out through the
 * payments worker and completed on the command topic.
 */
const logger = createLogger('principals-e2e', 'warn');
let db: TestDatabase;
let admin: Kafka;
let names: PlatformKafkaNames;
const services: Record<string, ServiceProcess> = {};

function asPrincipal(service: string): Record<string, string> {
  const settings = localKafkaEnv(service);
  if (!settings) throw new Error(`no Kafka credentials for ${service}: start the broker with \`make infra-up\``);
  return { ...settings, KAFKA_BROKERS: testEnv.kafkaBrokers.join(',') };
}

beforeAll(async () => {
  if (testEnv.kafka.security.protocol !== 'SASL_SSL') {
    throw new Error('this test needs the secured local broker (SASL_SSL): start it with `make infra-up`');
  }
  db = await createTestDatabase('principals');
  const id = uniqueName('principals').toLowerCase();
  const shared = namespaceEnv({ databaseUrl: db.url, id, portOffset: 0 });
  names = platformKafkaNames(shared.OUTBOX_TOPIC_PATTERN!, {
    WALLET_COMMANDS_TOPIC: shared.WALLET_COMMANDS_TOPIC!,
    WALLET_COMMANDS_DLQ_TOPIC: shared.WALLET_COMMANDS_DLQ_TOPIC!,
    WALLET_COMMANDS_GROUP_ID: shared.WALLET_COMMANDS_GROUP_ID!,
    PROJECTOR_GROUP_ID: shared.PROJECTOR_GROUP_ID!,
    PAYMENTS_GROUP_ID: shared.PAYMENTS_GROUP_ID!,
    BONUS_GROUP_ID: shared.BONUS_GROUP_ID!,
    OBSERVER_GROUP_PREFIX: `${id}.observer`,
    KAFKA_PRINCIPAL_PREFIX: 'sluice-',
  });
  admin = createKafka({ ...testEnv.kafka, clientId: 'principals-e2e', logger });
  // As `make topics` does: the event topics exist before the services start; `acls apply` follows.
  await ensureTopics(admin, [{ topic: names.walletEventTopic, partitions: 12, retainForever: true }]);
  await applyAcls(admin, aclPlan(names));
  const env = {
    ...shared,
    ...testIssuer().env(),
    SCHEMA_REGISTRY_URL: testEnv.registryUrl,
    LOG_LEVEL: 'info',
    RELAY_RECONNECT_MAX_MS: '500',
    EVENT_LOOP_MAX_DELAY_MS: '0',
    WELCOME_BONUS_AMOUNT: '500',
  };
  const start = async (service: string) =>
    (services[service] = startService(service, { ...env, ...asPrincipal(service) }, await freePort()));
  await (await start('command-api')).waitReady(60_000);
  await Promise.all(['outbox-relay', 'projector', 'bonus-service'].map(async (s) => (await start(s)).waitReady(60_000)));
  services['query-api'] = startService('query-api', env, await freePort());
  // The withdrawal path: the payments worker reads the wallet events and sends completions on the command topic.
  const [pspPort, workerPort] = [await freePort(), await freePort()];
  const links = {
    PSP_URL: `http://127.0.0.1:${pspPort}`,
    PSP_WEBHOOK_URL: `http://127.0.0.1:${workerPort}/v1/psp/webhooks`,
    PSP_SETTLE_MS: '100',
  };
  services['psp-simulator'] = startService('psp-simulator', { ...env, ...links }, pspPort);
  services['payments-worker'] = startService(
    'payments-worker',
    { ...env, ...links, ...asPrincipal('payments-worker') },
    workerPort,
  );
  await Promise.all(['query-api', 'psp-simulator', 'payments-worker'].map((s) => services[s]!.waitReady(60_000)));
});

afterAll(async () => {
  await Promise.all(Object.values(services).map((s) => s.kill('SIGTERM')));
  if (names) await removeAcls(admin, aclPlan(names));
  await db?.drop();
});

async function post(path: string, body: unknown, key: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${services['command-api']!.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'idempotency-key': key, ...(await testIssuer().bearer('principals-e2e')) },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

describe('every service as its own Kafka principal', () => {
  it('a deposit and the welcome bonus (bonus service → command topic → command API) reach the read model; a withdrawal is paid (payments worker → command topic)', async () => {
    const opened = await post('/v1/wallets', { currency: 'EUR' }, uniqueName('open'));
    expect(opened.status).toBe(201);
    const walletId = String(opened.body.walletId);
    expect((await post(`/v1/wallets/${walletId}/deposits`, { amount: 700, currency: 'EUR' }, uniqueName('dep'))).status).toBe(
      201,
    );
    const view = await waitFor(
      `wallet ${walletId} at version 3 in the query API`,
      async () => {
        const res = await fetch(`${services['query-api']!.url}/v1/wallets/${walletId}`, {
          headers: await testIssuer().bearer('principals-e2e'),
        });
        const body = res.status === 200 ? ((await res.json()) as Record<string, unknown>) : undefined;
        return body?.version === 3 ? body : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 100 },
    );
    expect(view).toMatchObject({ walletId, balance: 700 + 500, version: 3 });

    const requested = await post(`/v1/wallets/${walletId}/withdrawals`, { amount: 200, currency: 'EUR' }, uniqueName('wd'));
    expect(requested.status).toBe(202);
    const withdrawalId = String(requested.body.withdrawalId);
    const done = await waitFor(
      `withdrawal ${withdrawalId} completed in the query API`,
      async () => {
        const res = await fetch(`${services['query-api']!.url}/v1/withdrawals/${withdrawalId}`, {
          headers: await testIssuer().bearer('principals-e2e'),
        });
        const body = res.status === 200 ? ((await res.json()) as Record<string, unknown>) : undefined;
        return body?.state === 'completed' ? body : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 100 },
    );
    expect(done).toMatchObject({ withdrawalId, amount: 200 });
  });
});
