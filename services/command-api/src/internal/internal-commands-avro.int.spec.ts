import type { FastifyInstance } from 'fastify';
import type { Admin, Kafka, Producer } from 'kafkajs';
import { uuidv7 } from '@sluice/core';
import {
  avroCommandEncoder,
  connectCommandEncoder,
  createKafka,
  readSigningKey,
  signCommand,
  unframe,
  frame,
  type CommandEncoder,
  type EncodedCommand,
} from '@sluice/messaging';
import { createLogger, createMetricsRegistry } from '@sluice/observability';
import { walletCommandsCatalog, type DepositFunds } from '@sluice/schemas';
import {
  commandKeys,
  commandSigningEnv,
  consumeRecords,
  createTestDatabase,
  testEnv,
  testIssuer,
  uniqueName,
  waitFor,
  type TestDatabase,
} from '@sluice/testing';
import type { CommandApi } from '../app';
import { startCommandApi, testCommandApiEnv } from '../test-support/command-api-fixture';

/**
 * Wallet commands as Avro (wire version 3) through the real registry and Kafka,
 * beside JSON commands (wire version 2) written before the topic had a schema:
 * a rolling upgrade leaves both on the topic, and the command API reads both.
 */
const logger = createLogger('internal-commands-avro-test', 'warn');
let db: TestDatabase;
let api: CommandApi;
let http: FastifyInstance;
let kafka: Kafka;
let admin: Admin;
let producer: Producer;
let encode: CommandEncoder;
const topic = uniqueName('wallet_commands_avro');
const dlq = `${topic}.dlq`;
const bonusKey = () => readSigningKey(commandKeys().keyFile['bonus-service']!);

beforeAll(async () => {
  db = await createTestDatabase('internal_cmds_avro');
  const started = await startCommandApi(
    {
      ...testCommandApiEnv(db, 'ica'),
      WALLET_COMMANDS_ENABLED: 'true',
      WALLET_COMMANDS_TOPIC: topic,
      WALLET_COMMANDS_DLQ_TOPIC: dlq,
      WALLET_COMMANDS_GROUP_ID: uniqueName('command_api_avro'),
      WALLET_COMMANDS_PARTITIONS: '3',
      ...commandSigningEnv('command-api'),
    },
    'internal-commands-avro-test',
    createMetricsRegistry('t', false),
  );
  api = started.api;
  http = started.http;
  await api.startInternalCommands();
  // The bonus service's encoder, as it starts: the schemas registered under this topic.
  encode = await connectCommandEncoder({
    registryUrl: testEnv.registryUrl,
    catalog: walletCommandsCatalog,
    topic,
    issuer: 'bonus-service',
    key: bonusKey(),
    register: true,
  });
  kafka = createKafka({ ...testEnv.kafka, clientId: 'internal-commands-avro-test', logger });
  admin = kafka.admin();
  await admin.connect();
  producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
});

afterAll(async () => {
  await producer?.disconnect();
  await api?.close();
  await admin?.deleteTopics({ topics: [topic, dlq] }).catch(() => undefined);
  await admin?.disconnect();
  await db?.drop();
});

async function send(walletId: string, message: EncodedCommand | string): Promise<void> {
  const { value, headers } = typeof message === 'string' ? { value: message, headers: {} } : message;
  await producer.send({ topic, acks: -1, messages: [{ key: walletId, value, headers }] });
}

async function openWallet(): Promise<string> {
  const res = await http.inject({
    method: 'POST',
    url: '/v1/wallets',
    headers: {
      ...(await testIssuer().bearer('test-user')),
      'content-type': 'application/json',
      'idempotency-key': uniqueName('k'),
    },
    payload: '{"currency":"EUR"}',
  });
  expect(res.statusCode).toBe(201);
  return res.json<{ walletId: string }>().walletId;
}

const balance = async (walletId: string) =>
  Number((await api.pool.query<{ b: string }>('SELECT balance::text AS b FROM wallets WHERE id = $1', [walletId])).rows[0]!.b);

const deposit = (walletId: string, amount: number, commandId = uuidv7()): { type: 'DepositFunds' } & DepositFunds => ({
  type: 'DepositFunds',
  commandId,
  walletId,
  amount,
  currency: 'EUR',
  issuedBy: 'bonus-service/test',
});

/** A wallet's dead letters (code and reason), once there are `n`. */
async function letters(walletId: string, n: number): Promise<{ code?: string; reason?: string }[]> {
  return waitFor(`${n} dead letters of ${walletId}`, async () => {
    const total = (await admin.fetchTopicOffsets(dlq)).reduce((sum, p) => sum + Number(p.high), 0);
    const found = (await consumeRecords(kafka, dlq, total)).filter((r) => r.message.key?.toString() === walletId);
    if (found.length < n) throw new Error(`${found.length} so far`);
    return found.map((r) => ({
      code: r.message.headers?.['dlq.error.code']?.toString(),
      reason: r.message.headers?.['dlq.error.reason']?.toString(),
    }));
  });
}

describe('wallet commands as Avro on the command topic', () => {
  it('applies an Avro command sent through the real registry and Kafka, once however often it is delivered', async () => {
    const walletId = await openWallet();
    const sent = encode(deposit(walletId, 250));
    expect(sent.value.readUInt8(0)).toBe(0);
    await send(walletId, sent);
    await send(walletId, sent);
    await send(walletId, encode(deposit(walletId, 1)));
    await waitFor('both deposits', async () => (await balance(walletId)) === 251);
  });

  it('still handles a JSON command already on the topic, and takes an Avro copy of it as a duplicate, not a reused id', async () => {
    const walletId = await openWallet();
    const old = deposit(walletId, 300);
    await send(walletId, signCommand({ ...old }, 'bonus-service', bonusKey()));
    await send(walletId, encode(old));
    const marker = encode(deposit(walletId, 1));
    await send(walletId, marker);
    await waitFor('the JSON deposit and the marker', async () => (await balance(walletId)) === 301);
    // Nothing of this wallet was dead-lettered: a marker of a later refusal shows the topic was read past it.
    const usd = { ...deposit(walletId, 5), currency: 'USD' };
    await send(walletId, encode(usd));
    expect((await letters(walletId, 1)).map((l) => l.code)).toEqual(['currency_mismatch']);
  });

  it('dead-letters a signed Avro value that does not decode with its schema as invalid_command, with the reason', async () => {
    const walletId = await openWallet();
    const { schemaId } = unframe(encode(deposit(walletId, 1)).value);
    // Signed over the bytes sent, so it passes the signature and fails only at decoding.
    const truncated = avroCommandEncoder(
      { encode: () => frame(schemaId, Buffer.from([0x02])) },
      'wallet-commands',
      'bonus-service',
      bonusKey(),
    )(deposit(walletId, 1));
    await send(walletId, truncated);
    await send(walletId, { value: Buffer.from([0x00, 0x01]), headers: {} });
    await send(walletId, encode(deposit(walletId, 7)));
    const found = await letters(walletId, 2);
    expect(found.map((l) => l.code)).toEqual(['invalid_command', 'command_unsigned']);
    expect(found[0]!.reason).toMatch(/not a wallet command: .*does not decode with schema/);
    await waitFor('the next command applied after the bad ones', async () => (await balance(walletId)) === 7);
  });
});
