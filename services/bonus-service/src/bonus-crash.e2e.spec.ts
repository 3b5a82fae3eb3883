import type { Kafka, Producer } from 'kafkajs';
import { uuidv7 } from '@sluice/core';
import { createPool, type Pool } from '@sluice/db';
import { AvroEventCodec, createIdempotentProducer, createKafka, routeTopic } from '@sluice/messaging';
import { createLogger } from '@sluice/observability';
import { walletCatalog, type WalletEvent } from '@sluice/schemas';
import {
  createTestDatabase,
  createTestTopic,
  freePort,
  startService,
  testEnv,
  uniqueName,
  waitFor,
  type ServiceProcess,
  type TestDatabase,
  testIssuer,
} from '@sluice/testing';

/**
 * kill -9 of the bonus service while it works through a stream of
 * WalletOpened events: after its restart every wallet has its bonus, once.
 * The stream is cut for certain, not by timing: half of it is produced
 * before the kill, the other half while the service is down.
 */
const WALLETS = 150;
const logger = createLogger('bonus-crash-test', 'warn');
let db: TestDatabase;
let commandApi: ServiceProcess | undefined;
let pool: Pool;
let kafka: Kafka;
let producer: Producer;
let bonus: ServiceProcess | undefined;
const pattern = `${uniqueName('bcrash')}.\${routedByValue}`;
const eventsTopic = routeTopic(pattern, 'wallet');
let commandsTopic: string;

beforeAll(async () => {
  db = await createTestDatabase('bcrash');
  kafka = createKafka({ ...testEnv.kafka, clientId: 'bonus-crash-test', logger });
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: eventsTopic, numPartitions: 3 }], waitForLeaders: true });
  await admin.disconnect();
  commandsTopic = await createTestTopic(kafka, 'bcrash_commands', 3);
  commandApi = startService(
    'command-api',
    {
      ...testIssuer().env(),
      DATABASE_URL: db.url,
      ...testEnv.kafkaEnv,
      SCHEMA_REGISTRY_URL: testEnv.registryUrl,
      OUTBOX_TOPIC_PATTERN: pattern,
      OUTBOX_SLOT_NAME: uniqueName('slot').toLowerCase(),
      OUTBOX_PUBLICATION_NAME: uniqueName('pub').toLowerCase(),
      WALLET_COMMANDS_TOPIC: commandsTopic,
      WALLET_COMMANDS_DLQ_TOPIC: `${commandsTopic}.dlq`,
      WALLET_COMMANDS_GROUP_ID: uniqueName('bcrash_api'),
      WALLET_COMMANDS_PARTITIONS: '3',
      KAFKA_FETCH_MAX_WAIT_MS: '100',
      LOG_LEVEL: 'info',
    },
    await freePort(),
  );
  await commandApi.waitReady();
  pool = createPool({ url: db.url, applicationName: 'bonus-crash-test', max: 2 });
  producer = createIdempotentProducer(kafka);
  await producer.connect();
}, 60_000);

afterAll(async () => {
  await bonus?.kill('SIGTERM');
  await commandApi?.kill('SIGTERM');
  await producer?.disconnect();
  await pool?.end();
  await db?.drop();
});

async function openWallets(n: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const res = await fetch(`${commandApi!.url}/v1/wallets`, {
      method: 'POST',
      headers: {
        ...(await testIssuer().bearer('bonus-e2e')),
        'content-type': 'application/json',
        'idempotency-key': uniqueName('open'),
      },
      body: '{"currency":"EUR"}',
    });
    if (res.status !== 201) throw new Error(`open → ${res.status} ${await res.text()}`);
    ids.push(((await res.json()) as { walletId: string }).walletId);
  }
  return ids;
}

async function commandsSent(): Promise<number> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    return (await admin.fetchTopicOffsets(commandsTopic)).reduce((n, p) => n + Number(p.high), 0);
  } finally {
    await admin.disconnect();
  }
}

describe('bonus service killed mid-stream', () => {
  it('kill -9 while granting: after the restart every wallet has its bonus exactly once', async () => {
    const wallets = await openWallets(WALLETS);
    const codec = AvroEventCodec.connect(testEnv.registryUrl, [walletCatalog], pattern);
    await codec.registerAll();
    const produce = (walletIds: string[]) =>
      producer.send({
        topic: eventsTopic,
        acks: -1,
        messages: walletIds.map((walletId) => {
          const opened: WalletEvent = {
            type: 'WalletOpened',
            data: { eventId: uuidv7(), walletId, currency: 'EUR', version: 1, occurredAt: Date.now() },
          };
          return { key: walletId, value: codec.encode('wallet', opened), headers: { type: 'WalletOpened' } };
        }),
      });
    await produce(wallets.slice(0, WALLETS / 2));
    bonus = startService(
      'bonus-service',
      {
        ...testEnv.kafkaEnv,
        SCHEMA_REGISTRY_URL: testEnv.registryUrl,
        OUTBOX_TOPIC_PATTERN: pattern,
        WALLET_COMMANDS_TOPIC: commandsTopic,
        BONUS_GROUP_ID: uniqueName('bcrash_bonus'),
        BONUS_FROM_BEGINNING: 'true',
        WELCOME_BONUS_AMOUNT: '500',
        // One partition at a time and short fetch waits: the stream is consumed in several batches.
        KAFKA_PARTITIONS_CONCURRENTLY: '1',
        KAFKA_FETCH_MAX_WAIT_MS: '100',
        // The restarted member does not wait out the killed one's session for long.
        KAFKA_SESSION_TIMEOUT_MS: '6000',
        KAFKA_HEARTBEAT_INTERVAL_MS: '500',
        LOG_LEVEL: 'info',
      },
      await freePort(),
    );
    await bonus.waitReady();
    await waitFor('some grants to be sent', async () => (await commandsSent()) >= 5, { timeoutMs: 20_000, intervalMs: 10 });
    await bonus.kill('SIGKILL');
    await produce(wallets.slice(WALLETS / 2));
    await bonus.restart();
    await waitFor(
      'every wallet to have its bonus',
      async () => {
        const { rows } = await pool.query<{ n: string }>(
          'SELECT count(*)::text AS n FROM wallets WHERE id = ANY($1::uuid[]) AND balance = 500',
          [wallets],
        );
        return Number(rows[0]?.n) === WALLETS;
      },
      { timeoutMs: 40_000 },
    );
    // Exactly one deposit per wallet, whatever was sent twice across the crash.
    const { rows } = await pool.query<{ balance: string; version: number }>(
      'SELECT DISTINCT balance::text, version FROM wallets WHERE id = ANY($1::uuid[])',
      [wallets],
    );
    expect(rows).toEqual([{ balance: '500', version: 2 }]);
  }, 90_000);
});
