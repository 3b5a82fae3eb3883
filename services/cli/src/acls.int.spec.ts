import { readFileSync } from 'node:fs';
import {
  AclOperationTypes,
  AclPermissionTypes,
  AclResourceTypes,
  ResourcePatternTypes,
  type Kafka,
  type Producer,
} from 'kafkajs';
import { createKafka, ensureTopics, type KafkaSecurity } from '@sluice/messaging';
import { createLogger } from '@sluice/observability';
import { kafkaPrincipal, localCredentialsFile, testEnv, uniqueName } from '@sluice/testing';
import { aclPlan, applyAcls, platformKafkaNames, type PlatformKafkaNames } from '@sluice/platform';

const logger = createLogger('acls-test', 'silent');
let admin: Kafka;
let names: PlatformKafkaNames;

/**
 * The broker's error code behind a kafkajs failure. A producer that may not even
 * describe the topic gets the broker's TOPIC_AUTHORIZATION_FAILED back from kafkajs
 * as a non-retriable error that keeps the protocol error's text but not its type.
 */
function brokerError(err: unknown): string | undefined {
  const e = err as { type?: string; message?: string; cause?: unknown };
  if (e.type) return e.type;
  if (e.cause) return brokerError(e.cause);
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { errorCodes } = require('kafkajs/src/protocol/error') as { errorCodes: { type: string; message: string }[] };
  return errorCodes.find((c) => c.message === e.message)?.type;
}

async function producerRefusal(kafka: Kafka, topic: string): Promise<string | undefined> {
  try {
    await produceOnce(kafka, topic);
    return undefined;
  } catch (err) {
    return brokerError(err);
  }
}

/**
 * Whether the principal may use a consumer group: kafkajs turns the broker's
 * GROUP_AUTHORIZATION_FAILED to FindCoordinator into "group coordinator not found".
 */
async function groupRefusal(kafka: Kafka, groupId: string, topic: string): Promise<string | undefined> {
  const client = kafka.admin();
  await client.connect();
  try {
    await client.fetchOffsets({ groupId, topics: [topic] });
    return undefined;
  } catch (err) {
    return (err as Error).name;
  } finally {
    await client.disconnect();
  }
}

function clientOf(label: string, security: KafkaSecurity): Kafka {
  return createKafka({
    brokers: testEnv.kafkaBrokers,
    security,
    clientId: label,
    logger,
    connectionTimeoutMs: 3_000,
    retries: 1,
  });
}

function principal(name: string): Kafka {
  return clientOf(name, kafkaPrincipal(name).security);
}

async function produceOnce(kafka: Kafka, topic: string): Promise<void> {
  const producer: Producer = kafka.producer({ allowAutoTopicCreation: false, retry: { retries: 0 } });
  await producer.connect();
  try {
    await producer.send({ topic, acks: -1, messages: [{ key: 'w-1', value: 'x' }] });
  } finally {
    await producer.disconnect();
  }
}

beforeAll(async () => {
  if (testEnv.kafka.security.protocol !== 'SASL_SSL') {
    throw new Error('these tests need the secured local broker (SASL_SSL): start it with `make infra-up`');
  }
  admin = createKafka({ ...testEnv.kafka, clientId: 'acls-test-admin', logger });
  const id = uniqueName('acl');
  names = platformKafkaNames(`${id}.outbox.event.\${routedByValue}`, {
    WALLET_COMMANDS_TOPIC: `${id}.sluice.wallet.commands`,
    WALLET_COMMANDS_DLQ_TOPIC: `${id}.sluice.wallet.commands.dlq`,
    WALLET_COMMANDS_GROUP_ID: `${id}.sluice-command-api`,
    PROJECTOR_GROUP_ID: `${id}.sluice-projector-wallet`,
    PAYMENTS_GROUP_ID: `${id}.sluice-payments-worker`,
    BONUS_GROUP_ID: `${id}.sluice-bonus-service`,
    OBSERVER_GROUP_PREFIX: `${id}.observer`,
    KAFKA_PRINCIPAL_PREFIX: 'sluice-',
  });
  await ensureTopics(admin, [
    { topic: names.commandTopic, partitions: 1 },
    { topic: names.walletEventTopic, partitions: 1 },
  ]);
  await applyAcls(
    admin,
    aclPlan(names).filter((g) => g.name !== '*'),
  );
  // The observer's read on every topic is the one grant shared by all runs; applying it again changes nothing.
  await applyAcls(
    admin,
    aclPlan(names).filter((g) => g.name === '*'),
  );
});

afterAll(async () => {
  const a = admin.admin();
  await a.connect();
  try {
    const filters = [...new Set(aclPlan(names).map((g) => g.name))]
      .filter((name) => name !== '*')
      .map((resourceName) => ({
        resourceType: AclResourceTypes.ANY,
        resourceName,
        resourcePatternType: ResourcePatternTypes.ANY,
        operation: AclOperationTypes.ANY,
        permissionType: AclPermissionTypes.ANY,
      }));
    await a.deleteAcls({ filters });
    await a.deleteTopics({ topics: [names.commandTopic, names.walletEventTopic] });
  } finally {
    await a.disconnect();
  }
});

describe('the secured broker', () => {
  it('refuses a TLS client without SASL credentials', async () => {
    const ca = readFileSync(testEnv.kafkaEnv.KAFKA_SSL_CA_FILE!, 'utf8');
    const client = clientOf('anonymous', { protocol: 'SSL', tls: { ca } }).admin();
    await expect(client.connect().then(() => client.listTopics())).rejects.toThrow();
    await client.disconnect();
  });

  it('refuses a wrong password', async () => {
    const { security } = kafkaPrincipal('projector');
    const client = clientOf('wrong-password', { ...security, sasl: { ...security.sasl!, password: 'not-the-password' } }).admin();
    await expect(client.connect()).rejects.toThrow(/SASL SCRAM SHA512 authentication failed/);
  });

  it('refuses a plaintext client on its TLS listener', async () => {
    const client = clientOf('plaintext', { protocol: 'PLAINTEXT' }).admin();
    await expect(client.connect().then(() => client.listTopics())).rejects.toThrow();
    await client.disconnect();
  });

  it('refuses a certificate the client does not trust', async () => {
    const { security } = kafkaPrincipal('projector');
    const client = clientOf('untrusted', { ...security, tls: {} }).admin();
    await expect(client.connect()).rejects.toThrow();
    await client.disconnect();
  });
});

describe('the services’ grants', () => {
  it('let the payments worker write the command topic', async () => {
    await expect(produceOnce(principal('payments-worker'), names.commandTopic)).resolves.toBeUndefined();
  });

  it('let the bonus service write the command topic', async () => {
    await expect(produceOnce(principal('bonus-service'), names.commandTopic)).resolves.toBeUndefined();
  });

  it('refuse the projector a write to the command topic (TOPIC_AUTHORIZATION_FAILED)', async () => {
    await expect(producerRefusal(principal('projector'), names.commandTopic)).resolves.toBe('TOPIC_AUTHORIZATION_FAILED');
  });

  it('refuse the payments worker a write to the event topics, which only the relay writes', async () => {
    await expect(producerRefusal(principal('payments-worker'), names.walletEventTopic)).resolves.toBe(
      'TOPIC_AUTHORIZATION_FAILED',
    );
    await expect(produceOnce(principal('outbox-relay'), names.walletEventTopic)).resolves.toBeUndefined();
  });

  it('refuse the command API the offsets of a consumer group other than its own', async () => {
    const commandApi = principal('command-api');
    await expect(groupRefusal(commandApi, names.projectorGroup, names.commandTopic)).resolves.toBe(
      'KafkaJSGroupCoordinatorNotFound',
    );
    await expect(groupRefusal(commandApi, names.commandApiGroup, names.commandTopic)).resolves.toBeUndefined();
  });
});

describe('the observer', () => {
  it('reads the command topic in its own group', async () => {
    await produceOnce(admin, names.commandTopic);
    const observer = principal('observer');
    const consumer = observer.consumer({ groupId: `${names.observerGroupPrefix}.reader`, allowAutoTopicCreation: false });
    await consumer.connect();
    try {
      await consumer.subscribe({ topic: names.commandTopic, fromBeginning: true });
      const read = new Promise<string>((resolve) => {
        void consumer.run({ eachMessage: async ({ message }) => resolve(message.key!.toString()) });
      });
      await expect(read).resolves.toBe('w-1');
    } finally {
      await consumer.disconnect();
    }
  });

  it('connects with the librdkafka settings make up writes to observer.properties', async () => {
    const file = localCredentialsFile('observer.properties');
    const props = Object.fromEntries(
      readFileSync(file, 'utf8')
        .split('\n')
        .filter((l) => l.includes('='))
        .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
    );
    expect(props).toMatchObject({
      'security.protocol': 'SASL_SSL',
      'sasl.mechanisms': 'SCRAM-SHA-512',
      'sasl.username': 'sluice-observer',
    });
    const observer = clientOf('observer-properties', {
      protocol: 'SASL_SSL',
      sasl: { mechanism: 'SCRAM-SHA-512', username: props['sasl.username']!, password: props['sasl.password']! },
      tls: { ca: readFileSync(props['ssl.ca.location']!, 'utf8') },
    });
    await expect(producerRefusal(observer, names.commandTopic)).resolves.toBe('TOPIC_AUTHORIZATION_FAILED');
    const client = observer.admin();
    await client.connect();
    try {
      expect(await client.fetchTopicOffsets(names.commandTopic)).toHaveLength(1);
    } finally {
      await client.disconnect();
    }
  });

  it('cannot write the command topic (TOPIC_AUTHORIZATION_FAILED)', async () => {
    await expect(producerRefusal(principal('observer'), names.commandTopic)).resolves.toBe('TOPIC_AUTHORIZATION_FAILED');
  });

  it('cannot use a consumer group outside its prefix', async () => {
    await expect(groupRefusal(principal('observer'), names.bonusGroup, names.commandTopic)).resolves.toBe(
      'KafkaJSGroupCoordinatorNotFound',
    );
  });
});
