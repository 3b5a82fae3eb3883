import { generateKeyPairSync } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { Admin, Kafka, Producer } from 'kafkajs';
import { uuidv7 } from '@sluice/core';
import { createKafka, readSigningKey, signCommand } from '@sluice/messaging';
import { createLogger, createMetricsRegistry, type Registry } from '@sluice/observability';
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
import type { WalletCommandMessage } from './wallet-command-message';

const logger = createLogger('internal-commands-test', 'warn');
let db: TestDatabase;
let api: CommandApi;
let http: FastifyInstance;
let kafka: Kafka;
let admin: Admin;
let producer: Producer;
let registry: Registry;
const topic = uniqueName('wallet_commands');
const dlq = `${topic}.dlq`;
const group = uniqueName('command_api');

/** A subject with every scope: the requests here are not about authorization. */
let AUTH: Record<string, string>;

beforeAll(async () => {
  AUTH = await testIssuer().bearer('test-user');
  db = await createTestDatabase('internal_cmds');
  registry = createMetricsRegistry('t', false);
  const started = await startCommandApi(
    {
      ...testCommandApiEnv(db, 'ic'),
      WALLET_COMMANDS_ENABLED: 'true',
      WALLET_COMMANDS_TOPIC: topic,
      WALLET_COMMANDS_DLQ_TOPIC: dlq,
      WALLET_COMMANDS_GROUP_ID: group,
      WALLET_COMMANDS_PARTITIONS: '3',
      ...commandSigningEnv('command-api'),
    },
    'internal-commands-test',
    registry,
  );
  api = started.api;
  http = started.http;
  await api.startInternalCommands();
  kafka = createKafka({ ...testEnv.kafka, clientId: 'internal-commands-test', logger });
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

/** Signed as the platform's senders sign: deposits by the bonus service, withdrawal steps by the payments worker. */
function signed(
  message: WalletCommandMessage,
  issuer = message.type === 'DepositFunds' ? 'bonus-service' : 'payments-worker',
): string {
  return signCommand(message, issuer, readSigningKey(commandKeys().keyFile[issuer]!));
}

async function send(walletId: string, message: WalletCommandMessage | string): Promise<void> {
  await producer.send({
    topic,
    acks: -1,
    messages: [{ key: walletId, value: typeof message === 'string' ? message : signed(message) }],
  });
}

/** The codes of a wallet's dead letters, once there are `n` of them. */
async function letterCodes(walletId: string, n: number): Promise<(string | undefined)[]> {
  return waitFor(`${n} dead letters of ${walletId}`, async () => {
    const total = (await admin.fetchTopicOffsets(dlq)).reduce((sum, p) => sum + Number(p.high), 0);
    const letters = (await consumeRecords(kafka, dlq, total)).filter((r) => r.message.key?.toString() === walletId);
    if (letters.length < n) throw new Error(`${letters.length} so far`);
    return letters.map((r) => r.message.headers?.['dlq.error.code']?.toString());
  });
}

async function post(url: string, body: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await http.inject({
    method: 'POST',
    url,
    headers: { ...AUTH, 'content-type': 'application/json', 'idempotency-key': uniqueName('k') },
    payload: JSON.stringify(body),
  });
  return { status: res.statusCode, body: res.json() };
}

async function openWallet(): Promise<string> {
  const res = await post('/v1/wallets', { currency: 'EUR' });
  expect(res.status).toBe(201);
  return String(res.body.walletId);
}

async function wallet(walletId: string): Promise<{ balance: number; held: number; version: number }> {
  const { rows } = await api.pool.query<{ balance: string; held: string; version: number }>(
    'SELECT balance::text, held::text, version FROM wallets WHERE id = $1',
    [walletId],
  );
  return { balance: Number(rows[0]!.balance), held: Number(rows[0]!.held), version: rows[0]!.version };
}

describe('internal wallet commands over Kafka (@nestjs/microservices)', () => {
  it('consumes in the group named by WALLET_COMMANDS_GROUP_ID, without the hidden -server suffix', async () => {
    const described = await waitFor('the consumer group to be stable', async () => {
      const { groups } = await admin.describeGroups([group]);
      return groups[0]?.state === 'Stable' ? groups[0] : undefined;
    });
    expect(described.members.length).toBe(1);
    const { groups } = await admin.listGroups();
    expect(groups.map((g) => g.groupId)).not.toContain(`${group}-server`);
  });

  it('credits a deposit command once however often it is delivered (inbox by command id)', async () => {
    const walletId = await openWallet();
    const commandId = uuidv7();
    const command: WalletCommandMessage = {
      type: 'DepositFunds',
      commandId,
      walletId,
      amount: 500,
      currency: 'EUR',
      issuedBy: 'test',
    };
    await send(walletId, command);
    await send(walletId, command);
    await send(walletId, { ...command, commandId: uuidv7(), amount: 1 });
    await waitFor('both distinct deposits', async () => (await wallet(walletId)).balance === 501);
    await send(walletId, command);
    const marker = uuidv7();
    await send(walletId, { type: 'DepositFunds', commandId: marker, walletId, amount: 1000, currency: 'EUR' });
    await waitFor('the marker deposit', async () => (await wallet(walletId)).balance >= 1501);
    expect(await wallet(walletId)).toMatchObject({ balance: 1501, version: 4 });
    const { rows } = await api.pool.query('SELECT id FROM deposits WHERE wallet_id = $1 AND id = $2', [walletId, commandId]);
    expect(rows).toHaveLength(1);
    const metrics = await registry.getSingleMetricAsString('sluice_internal_commands_total');
    expect(metrics).toMatch(/type="DepositFunds",outcome="duplicate"[^}]*\} [2-9]/);
  });

  it('records an internal command in the audit log once, with its issuer as who and its command id', async () => {
    const walletId = await openWallet();
    const commandId = uuidv7();
    const command: WalletCommandMessage = {
      type: 'DepositFunds',
      commandId,
      walletId,
      amount: 70,
      currency: 'EUR',
      issuedBy: 'bonus-service',
    };
    await send(walletId, command);
    await send(walletId, command);
    await waitFor('the deposit', async () => (await wallet(walletId)).balance === 70);
    const { rows } = await api.pool.query(
      `SELECT principal, source, command_type, amount::int, request_id FROM audit_log WHERE wallet_id = $1 AND source = 'kafka'`,
      [walletId],
    );
    expect(rows).toEqual([
      { principal: 'bonus-service', source: 'kafka', command_type: 'DepositFunds', amount: 70, request_id: commandId },
    ]);
  });

  it('runs the withdrawal lifecycle the payments saga drives: submitted then completed, and failed with the hold released', async () => {
    const walletId = await openWallet();
    await send(walletId, { type: 'DepositFunds', commandId: uuidv7(), walletId, amount: 1_000, currency: 'EUR' });
    await waitFor('the deposit', async () => (await wallet(walletId)).balance === 1_000);
    const paid = String((await post(`/v1/wallets/${walletId}/withdrawals`, { amount: 300, currency: 'EUR' })).body.withdrawalId);
    const failed = String(
      (await post(`/v1/wallets/${walletId}/withdrawals`, { amount: 200, currency: 'EUR' })).body.withdrawalId,
    );
    expect(await wallet(walletId)).toMatchObject({ balance: 1_000, held: 500 });

    await send(walletId, {
      type: 'MarkWithdrawalSubmitted',
      commandId: uuidv7(),
      walletId,
      withdrawalId: paid,
      provider: 'psp-sim',
      providerReference: 'po_1',
    });
    await send(walletId, {
      type: 'CompleteWithdrawal',
      commandId: uuidv7(),
      walletId,
      withdrawalId: paid,
      providerReference: 'po_1',
    });
    await send(walletId, {
      type: 'MarkWithdrawalSubmitted',
      commandId: uuidv7(),
      walletId,
      withdrawalId: failed,
      provider: 'psp-sim',
    });
    await send(walletId, {
      type: 'FailWithdrawal',
      commandId: uuidv7(),
      walletId,
      withdrawalId: failed,
      reason: 'declined',
      detail: 'the bank refused the payout',
    });
    // A repeat of the completion under a new command id (a saga retrying after a crash) changes nothing.
    await send(walletId, {
      type: 'CompleteWithdrawal',
      commandId: uuidv7(),
      walletId,
      withdrawalId: paid,
      providerReference: 'po_1',
    });

    await waitFor('both withdrawals settled', async () => {
      const { rows } = await api.pool.query<{ id: string; status: string }>(
        'SELECT id, status FROM withdrawals WHERE wallet_id = $1',
        [walletId],
      );
      const status = Object.fromEntries(rows.map((r) => [r.id, r.status]));
      return status[paid] === 'completed' && status[failed] === 'compensated';
    });
    // 1 open, 2 deposit, 3-4 requested, 5 submitted, 6 completed, 7 submitted, 8 failed, 9 compensated.
    expect(await wallet(walletId)).toEqual({ balance: 700, held: 0, version: 9 });
    const status = await http.inject({ method: 'GET', url: `/v1/withdrawals/${paid}`, headers: AUTH });
    expect(status.json()).toMatchObject({ state: 'completed', amount: 300 });
    expect(status.headers['retry-after']).toBeUndefined();
  });

  it('dead-letters refused and malformed commands with the reason, once, and commits past them', async () => {
    const walletId = await openWallet();
    const refused: WalletCommandMessage = {
      type: 'CompleteWithdrawal',
      commandId: uuidv7(),
      walletId,
      withdrawalId: uuidv7(),
      providerReference: null,
    };
    await send(walletId, refused);
    await send(walletId, '{"type":"DepositFunds","amount":');
    await send(walletId, refused);
    await send(walletId, { type: 'DepositFunds', commandId: uuidv7(), walletId, amount: 5, currency: 'USD' });
    await send(walletId, { type: 'DepositFunds', commandId: uuidv7(), walletId, amount: 7, currency: 'EUR' });
    await waitFor('the last deposit', async () => (await wallet(walletId)).balance === 7);

    const letters = (await consumeRecords(kafka, dlq, 3)).filter((r) => r.message.key?.toString() === walletId);
    const codes = letters.map((r) => r.message.headers?.['dlq.error.code']?.toString());
    expect(codes).toEqual(['withdrawal_not_found', 'invalid_command', 'currency_mismatch']);
    const first = letters[0]!.message;
    expect(JSON.parse(first.value!.toString())).toMatchObject({ ...refused, v: 2, issuer: 'payments-worker' });
    expect(first.headers?.['dlq.original.topic']?.toString()).toBe(topic);
    expect(first.headers?.['dlq.consumer.group']?.toString()).toBe(group);
    expect(first.headers?.['dlq.error.reason']?.toString()).toContain(refused.withdrawalId);
    const { rows } = await api.pool.query<{ outcome_status: number }>(
      'SELECT outcome_status FROM inbox WHERE consumer = $1 AND message_id = $2',
      [group, refused.commandId],
    );
    expect(rows).toEqual([{ outcome_status: 404 }]);
  });

  it('refuses a command from an issuer not allowed its type: the bonus service completing a withdrawal is dead-lettered, the hold stays', async () => {
    const walletId = await openWallet();
    await send(walletId, { type: 'DepositFunds', commandId: uuidv7(), walletId, amount: 1_000, currency: 'EUR' });
    await waitFor('the deposit', async () => (await wallet(walletId)).balance === 1_000);
    const withdrawalId = String(
      (await post(`/v1/wallets/${walletId}/withdrawals`, { amount: 300, currency: 'EUR' })).body.withdrawalId,
    );
    const release: WalletCommandMessage = {
      type: 'FailWithdrawal',
      commandId: uuidv7(),
      walletId,
      withdrawalId,
      reason: 'declined',
      detail: 'x',
    };
    await send(walletId, signed(release, 'bonus-service'));
    await send(walletId, { type: 'DepositFunds', commandId: uuidv7(), walletId, amount: 1, currency: 'EUR' });
    await waitFor('the marker deposit', async () => (await wallet(walletId)).balance === 1_001);
    expect(await wallet(walletId)).toMatchObject({ held: 300 });
    expect(await letterCodes(walletId, 1)).toEqual(['command_type_not_allowed']);
  });

  it('refuses unsigned and forged commands: no money is minted, each is dead-lettered with its reason and counted', async () => {
    const walletId = await openWallet();
    const mint: WalletCommandMessage = {
      type: 'DepositFunds',
      commandId: uuidv7(),
      walletId,
      amount: 1_000_000,
      currency: 'EUR',
    };
    await send(walletId, JSON.stringify(mint));
    const forger = generateKeyPairSync('ed25519').privateKey;
    await send(walletId, signCommand({ ...mint, commandId: uuidv7() }, 'bonus-service', forger));
    await send(walletId, signCommand({ ...mint, commandId: uuidv7() }, 'stranger', forger));
    const tampered = JSON.parse(signed({ ...mint, commandId: uuidv7(), amount: 1 })) as Record<string, unknown>;
    await send(walletId, JSON.stringify({ ...tampered, amount: 1_000_000 }));
    await send(walletId, { type: 'DepositFunds', commandId: uuidv7(), walletId, amount: 2, currency: 'EUR' });
    await waitFor('the marker deposit', async () => (await wallet(walletId)).balance === 2);
    expect(await letterCodes(walletId, 4)).toEqual([
      'command_unsigned',
      'command_bad_signature',
      'command_unknown_issuer',
      'command_bad_signature',
    ]);
    const refused = await registry.getSingleMetricAsString('sluice_internal_commands_refused_total');
    expect(refused).toMatch(/reason="unsigned"[^}]*\} [1-9]/);
    expect(refused).toMatch(/reason="bad_signature"[^}]*\} [2-9]/);
  });

  it('refuses the same command id with another payload (counted, first payload in effect); the same payload again is a duplicate', async () => {
    const walletId = await openWallet();
    const commandId = uuidv7();
    const first: WalletCommandMessage = { type: 'DepositFunds', commandId, walletId, amount: 10, currency: 'EUR' };
    await send(walletId, first);
    await send(walletId, { ...first, amount: 10_000 });
    await send(walletId, first);
    await send(walletId, { type: 'DepositFunds', commandId: uuidv7(), walletId, amount: 1, currency: 'EUR' });
    await waitFor('the marker deposit', async () => (await wallet(walletId)).balance === 11);
    expect(await letterCodes(walletId, 1)).toEqual(['command_id_reused']);
    const refused = await registry.getSingleMetricAsString('sluice_internal_commands_refused_total');
    expect(refused).toMatch(/reason="command_id_reused"[^}]*\} 1/);
  });
});
