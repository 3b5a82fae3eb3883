import type { Producer } from 'kafkajs';
import { applyMigrations, createPool, type Pool, type PoolClient } from '@sluice/db';
import { generateKeyPairSync } from 'node:crypto';
import {
  AvroEventCodec,
  connectCommandEncoder,
  createIdempotentProducer,
  createKafka,
  ensureTopics,
  verifyFramedCommand,
  type CommandEncoder,
} from '@sluice/messaging';
import { walletCommandsCatalog } from '@sluice/schemas';
import { createLogger, createMetricsRegistry } from '@sluice/observability';
import { consumeRecords, createTestDatabase, testEnv, uniqueName, type TestDatabase } from '@sluice/testing';
import { PAYMENTS_MIGRATIONS } from '../app';
import { commandIdOf, type WalletCommand } from '../saga/saga';
import { appendCommands } from '../saga/saga-store';
import { PollWait } from '../poll-wait';
import { CommandDispatcher } from './command-dispatcher';

const logger = createLogger('dispatcher-test', 'warn');
const kafka = createKafka({ ...testEnv.kafka, clientId: 'dispatcher-test', logger });
const topic = uniqueName('payments_commands');
let db: TestDatabase;
let pool: Pool;
let producer: Producer;
let encode: CommandEncoder;
const key = generateKeyPairSync('ed25519');

beforeAll(async () => {
  db = await createTestDatabase('dispatcher');
  pool = createPool({ url: db.url, applicationName: 'dispatcher-test', max: 4 });
  await applyMigrations(pool, PAYMENTS_MIGRATIONS);
  await ensureTopics(kafka, [{ topic, partitions: 3 }]);
  producer = createIdempotentProducer(kafka);
  encode = await connectCommandEncoder({
    registryUrl: testEnv.registryUrl,
    catalog: walletCommandsCatalog,
    topic,
    issuer: 'payments-worker',
    key: key.privateKey,
    register: true,
  });
  await producer.connect();
});

afterAll(async () => {
  await producer?.disconnect();
  await pool?.end();
  await db?.drop();
});

const command = (withdrawalId: string): WalletCommand => ({
  type: 'CompleteWithdrawal',
  commandId: commandIdOf(withdrawalId, 'CompleteWithdrawal'),
  walletId: '01970000-0000-7000-8000-000000000001',
  withdrawalId,
  providerReference: 'po_1',
  issuedBy: 'test',
});

describe('wallet command dispatcher', () => {
  it('regression: a command whose transaction commits while a batch is being sent (a lower seq, committed late) is sent, not deleted unsent', async () => {
    const late: PoolClient = await pool.connect();
    await late.query('BEGIN');
    await appendCommands(late, [command('01970000-0000-7000-8000-00000000000a')]); // takes the lower seq, not committed yet
    const other = await pool.connect();
    await other.query('BEGIN');
    await appendCommands(other, [command('01970000-0000-7000-8000-00000000000b')]);
    await other.query('COMMIT');
    other.release();
    // The late transaction commits while the dispatcher waits for Kafka: after its SELECT, before its DELETE.
    const racing = {
      send: async (record: Parameters<Producer['send']>[0]) => {
        const result = await producer.send(record);
        await late.query('COMMIT');
        late.release();
        return result;
      },
    } as unknown as Producer;
    const dispatcher = new CommandDispatcher(
      pool,
      racing,
      topic,
      new PollWait(50, 50),
      logger,
      createMetricsRegistry('t', false),
      encode,
    );
    expect(await dispatcher.dispatchOnce()).toBe(1);
    expect((await pool.query('SELECT count(*)::int AS n FROM payment_commands')).rows[0]).toEqual({ n: 1 });
    const after = new CommandDispatcher(
      pool,
      producer,
      topic,
      new PollWait(50, 50),
      logger,
      createMetricsRegistry('t2', false),
      encode,
    );
    expect(await after.dispatchOnce()).toBe(1);
    const reader = AvroEventCodec.connect(testEnv.registryUrl, [walletCommandsCatalog], topic);
    const issuers = new Map([['payments-worker', { publicKey: key.publicKey, commands: new Set(['CompleteWithdrawal']) }]]);
    const sent: string[] = [];
    for (const r of await consumeRecords(kafka, topic, 2)) {
      const header = (name: string) => r.message.headers?.[name]?.toString();
      const verified = await verifyFramedCommand(r.message.value!, header, issuers, reader);
      if (!verified.ok) throw new Error(`the sent command does not verify: ${verified.detail}`);
      expect(header('type')).toBe('CompleteWithdrawal');
      sent.push(String(verified.payload.withdrawalId));
    }
    expect(sent.sort()).toEqual(['01970000-0000-7000-8000-00000000000a', '01970000-0000-7000-8000-00000000000b']);
  });

  it('sends each command with the traceparent it was written with, beside a signature that still verifies', async () => {
    const traced = uniqueName('payments_commands_traced');
    await ensureTopics(kafka, [{ topic: traced, partitions: 1 }]);
    const encodeTraced = await connectCommandEncoder({
      registryUrl: testEnv.registryUrl,
      catalog: walletCommandsCatalog,
      topic: traced,
      issuer: 'payments-worker',
      key: key.privateKey,
      register: true,
    });
    const traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    const client = await pool.connect();
    try {
      await appendCommands(client, [command('01970000-0000-7000-8000-0000000000c1')], traceparent);
      await appendCommands(client, [command('01970000-0000-7000-8000-0000000000c2')]);
    } finally {
      client.release();
    }
    const dispatcher = new CommandDispatcher(
      pool,
      producer,
      traced,
      new PollWait(50, 50),
      logger,
      createMetricsRegistry('t3', false),
      encodeTraced,
    );
    expect(await dispatcher.dispatchOnce()).toBe(2);
    const reader = AvroEventCodec.connect(testEnv.registryUrl, [walletCommandsCatalog], traced);
    const issuers = new Map([['payments-worker', { publicKey: key.publicKey, commands: new Set(['CompleteWithdrawal']) }]]);
    const headers = new Map<string, string | undefined>();
    for (const r of await consumeRecords(kafka, traced, 2)) {
      const header = (name: string) => r.message.headers?.[name]?.toString();
      const verified = await verifyFramedCommand(r.message.value!, header, issuers, reader);
      if (!verified.ok) throw new Error(`the sent command does not verify: ${verified.detail}`);
      headers.set(String(verified.payload.withdrawalId), header('traceparent'));
    }
    expect(Object.fromEntries(headers)).toEqual({
      '01970000-0000-7000-8000-0000000000c1': traceparent,
      '01970000-0000-7000-8000-0000000000c2': undefined,
    });
  });
});
