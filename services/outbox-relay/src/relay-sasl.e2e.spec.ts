import { setTimeout as sleep } from 'node:timers/promises';
import { AclOperationTypes, AclPermissionTypes, AclResourceTypes, ResourcePatternTypes, type AclEntry } from 'kafkajs';
import { freePort, localKafkaEnv, startService, testEnv, waitFor, type ServiceProcess } from '@sluice/testing';
import { RelayHarness } from './relay-harness';

/**
 * The relay as its own process with @platformatic/kafka (the default client), connecting
 * over SASL_SSL with its own principal, which may write the event topics and nothing more.
 */
const harness = new RelayHarness('polling');
let relay: ServiceProcess | undefined;
let grant: AclEntry;

function principalEnv(principal: string): Record<string, string> {
  const settings = localKafkaEnv(principal);
  if (!settings) throw new Error(`no credentials for ${principal}: start the broker with \`make infra-up\``);
  return { ...settings, KAFKA_BROKERS: testEnv.kafkaBrokers.join(',') };
}

beforeAll(async () => {
  if (testEnv.kafka.security.protocol !== 'SASL_SSL') {
    throw new Error('this test needs the secured local broker (SASL_SSL): start it with `make infra-up`');
  }
  await harness.setUp();
  grant = {
    resourceType: AclResourceTypes.TOPIC,
    resourceName: harness.topic,
    resourcePatternType: ResourcePatternTypes.LITERAL,
    principal: `User:${principalEnv('outbox-relay').KAFKA_SASL_USERNAME}`,
    host: '*',
    operation: AclOperationTypes.WRITE,
    permissionType: AclPermissionTypes.ALLOW,
  };
  await harness.admin.createAcls({ acl: [grant] });
});

afterEach(async () => {
  await relay?.kill('SIGTERM');
  relay = undefined;
});

afterAll(async () => {
  await harness.admin.deleteAcls({ filters: [grant] });
  await harness.tearDown();
});

describe('the relay on the secured broker', () => {
  it('publishes with @platformatic/kafka over SASL_SSL as its own principal', async () => {
    relay = startService(
      'outbox-relay',
      { ...harness.env, ...principalEnv('outbox-relay'), RELAY_KAFKA_CLIENT: 'platformatic' },
      await freePort(),
    );
    await relay.waitReady(60_000);
    const metrics = await (await fetch(`${relay.url}/metrics`)).text();
    expect(metrics.split('\n').find((l) => l.startsWith('sluice_relay_info{'))).toContain('kafka_client="platformatic"');
    await harness.commit([harness.deposited('w-sasl-1', 1), harness.deposited('w-sasl-1', 2)]);
    await expect(
      waitFor('2 records on the event topic', async () => (await harness.count()) >= 2 && harness.count(), { timeoutMs: 30_000 }),
    ).resolves.toBe(2);
  });

  it('publishes nothing as a principal without write on the event topics', async () => {
    const before = await harness.count();
    relay = startService(
      'outbox-relay',
      { ...harness.env, ...principalEnv('projector'), RELAY_KAFKA_CLIENT: 'platformatic' },
      await freePort(),
    );
    await harness.commit([harness.deposited('w-sasl-2', 1)]);
    await sleep(5_000);
    expect(await harness.count()).toBe(before);
  });
});
