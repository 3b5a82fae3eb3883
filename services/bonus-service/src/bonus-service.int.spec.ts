import type { Admin, Kafka, Producer } from 'kafkajs';
import type { Pool } from 'pg';
import { loadConfig } from '@sluice/config';
import { uuidv7 } from '@sluice/core';
import { createPool } from '@sluice/db';
import { AvroEventCodec, createKafka, ensureTopics } from '@sluice/messaging';
import { createLogger, createMetricsRegistry } from '@sluice/observability';
import { walletCatalog, walletCommandsCatalog, type WalletEvent } from '@sluice/schemas';
import {
  commandSigningEnv,
  consumeRecords,
  createTestDatabase,
  freePort,
  startService,
  testEnv,
  testIssuer,
  uniqueName,
  waitFor,
  type ServiceProcess,
  type TestDatabase,
} from '@sluice/testing';
import { buildBonusService, type BonusService } from './app';
import { bonusServiceConfig } from './config';
import { grantCommandId } from './grant-id';

/**
 * Service to service over Kafka, both sides real: the bonus service reads a
 * WalletOpened from the event topic and sends DepositFunds to the wallet
 * command topic, which the command API (its build, run as its own process) consumes
 * into the wallet.
 */
const logger = createLogger('bonus-test', 'warn');
let db: TestDatabase;
let commandApi: ServiceProcess;
let pool: Pool;
let bonus: BonusService;
let kafka: Kafka;
let admin: Admin;
let producer: Producer;
let codec: AvroEventCodec;
const pattern = `${uniqueName('bonus')}.\${routedByValue}`;
const commandsTopic = uniqueName('bonus_wallet_commands');
const bonusGroup = uniqueName('bonus_service');

beforeAll(async () => {
  db = await createTestDatabase('bonus');
  kafka = createKafka({ ...testEnv.kafka, clientId: 'bonus-test', logger });
  const eventsTopic = pattern.replace('${routedByValue}', 'wallet');
  await ensureTopics(kafka, [{ topic: eventsTopic, partitions: 3 }]);
  const shared = {
    DATABASE_URL: db.url,
    ...testEnv.kafkaEnv,
    SCHEMA_REGISTRY_URL: testEnv.registryUrl,
    OUTBOX_TOPIC_PATTERN: pattern,
    WALLET_COMMANDS_TOPIC: commandsTopic,
    LOG_LEVEL: 'warn',
    // The test shares the service's event loop: its own bursts must not read as saturation.
    EVENT_LOOP_MAX_DELAY_MS: '0',
  };
  commandApi = startService(
    'command-api',
    {
      ...shared,
      ...testIssuer().env(),
      OUTBOX_SLOT_NAME: uniqueName('slot').toLowerCase(),
      WALLET_COMMANDS_DLQ_TOPIC: `${commandsTopic}.dlq`,
      WALLET_COMMANDS_GROUP_ID: uniqueName('command_api'),
      WALLET_COMMANDS_PARTITIONS: '3',
    },
    await freePort(),
  );
  await commandApi.waitReady();
  pool = createPool({ url: db.url, applicationName: 'bonus-test', max: 2 });
  bonus = await buildBonusService(
    loadConfig(bonusServiceConfig, {
      SLUICE_ENV: 'development',
      ...shared,
      BONUS_GROUP_ID: bonusGroup,
      BONUS_FROM_BEGINNING: 'true',
      WELCOME_BONUS_AMOUNT: '500',
      ...commandSigningEnv('bonus-service'),
    }),
    logger,
    createMetricsRegistry('b', false),
  );
  await bonus.app.init();
  await bonus.start();
  admin = kafka.admin();
  await admin.connect();
  producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  codec = AvroEventCodec.connect(testEnv.registryUrl, [walletCatalog], pattern);
  await codec.registerAll();
});

afterAll(async () => {
  await producer?.disconnect();
  await bonus?.close();
  await commandApi?.kill('SIGTERM');
  await pool?.end();
  await admin?.disconnect();
  await db?.drop();
});

describe('bonus service → wallet commands (both over the NestJS Kafka transport)', () => {
  it('grants the welcome bonus once per wallet, although the WalletOpened event arrives twice', async () => {
    const res = await fetch(`${commandApi.url}/v1/wallets`, {
      method: 'POST',
      headers: {
        ...(await testIssuer().bearer('bonus-test')),
        'content-type': 'application/json',
        'idempotency-key': uniqueName('open'),
      },
      body: '{"currency":"EUR"}',
    });
    expect(res.status).toBe(201);
    const { walletId } = (await res.json()) as { walletId: string };
    // The relay would publish this; here the test does, twice, as a relay crash can.
    const opened: WalletEvent = {
      type: 'WalletOpened',
      data: { eventId: uuidv7(), walletId, currency: 'EUR', version: 1, occurredAt: Date.now() },
    };
    const value = codec.encode('wallet', opened);
    for (let i = 0; i < 2; i++) {
      await producer.send({ topic: bonus.eventsTopic, acks: -1, messages: [{ key: walletId, value }] });
    }

    const commands = await consumeRecords(kafka, commandsTopic, 2);
    // Avro under the command topic's registered schema, issuer and signature in headers.
    const reader = AvroEventCodec.connect(testEnv.registryUrl, [walletCommandsCatalog], commandsTopic);
    const sent = await Promise.all(commands.map(async (r) => ({ ...(await reader.decode(r.message.value!)) })));
    expect(commands.every((r) => r.message.key?.toString() === walletId)).toBe(true);
    expect(commands.map((r) => r.message.headers?.['sluice-issuer']?.toString())).toEqual(['bonus-service', 'bonus-service']);
    expect(sent).toEqual([
      {
        type: 'DepositFunds',
        schemaId: expect.any(Number),
        data: {
          commandId: grantCommandId('welcome-2026', walletId),
          walletId,
          amount: 500,
          currency: 'EUR',
          issuedBy: 'bonus-service/welcome-2026',
        },
      },
      sent[0],
    ]);

    await waitFor('the bonus in the wallet', async () => {
      const { rows } = await pool.query<{ balance: string }>('SELECT balance::text FROM wallets WHERE id = $1', [walletId]);
      return rows[0]?.balance === '500';
    });
    // The second copy reached the wallet's inbox too, and changed nothing.
    await waitFor('the second copy to be handled', async () => {
      const { rows } = await pool.query<{ n: string }>('SELECT count(*)::text AS n FROM inbox WHERE message_id = $1', [
        grantCommandId('welcome-2026', walletId),
      ]);
      return rows[0]?.n === '1';
    });
    const { rows } = await pool.query<{ balance: string; version: number }>(
      'SELECT balance::text, version FROM wallets WHERE id = $1',
      [walletId],
    );
    expect(rows[0]).toEqual({ balance: '500', version: 2 });
    const { groups } = await admin.describeGroups([bonusGroup]);
    expect(groups[0]?.state).toBe('Stable');
  });
});
