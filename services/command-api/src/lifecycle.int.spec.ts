import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { Registry } from 'prom-client';
import { ConfigError } from '@sluice/config';
import { createPool, Purger, type Pool } from '@sluice/db';
import { createKafka, ensureTopics } from '@sluice/messaging';
import { createLogger } from '@sluice/observability';
import { testEnv, testIssuer, uniqueName } from '@sluice/testing';
import type { CommandApiConfig } from './config';
import { checkCommandTopicRetention, ensureCommandTopics } from './internal/internal-commands';
import { commandApiPurges } from './lifecycle';
import { startTestCommandApi, type TestCommandApi } from './test-support/command-api-fixture';

const HOUR_MS = 3_600_000;
let t: TestCommandApi;
let http: FastifyInstance;
let config: CommandApiConfig;
let purgePool: Pool;
let AUTH: Record<string, string>;

beforeAll(async () => {
  AUTH = await testIssuer().bearer('retention-user');
  t = await startTestCommandApi('cmd_retention');
  ({ http, config } = t);
  purgePool = createPool({ url: t.db.url, applicationName: 'retention-test', max: 1 });
});

afterAll(async () => {
  await purgePool?.end();
  await t?.close();
});

function post(url: string, body: unknown, key: string): Promise<LightMyRequestResponse> {
  return http.inject({
    method: 'POST',
    url,
    headers: { ...AUTH, 'content-type': 'application/json', 'idempotency-key': key },
    payload: JSON.stringify(body),
  });
}

/** The command API's own purge, run once now. */
async function purgeNow(): Promise<void> {
  const purger = new Purger({
    pool: purgePool,
    specs: commandApiPurges(config),
    settings: { intervalMs: 60_000, batchRows: 100, batchPauseMs: 0, lockTimeoutMs: 200, statementTimeoutMs: 2_000 },
    registry: new Registry(),
  });
  const runs = await purger.runOnce();
  expect(runs.map((r) => r.outcome)).toEqual(['done', 'done']);
}

async function ageKey(key: string, hours: number): Promise<void> {
  const { rowCount } = await t.api.pool.query(
    `UPDATE idempotency_keys SET created_at = now() - make_interval(hours => $2) WHERE key = $1`,
    [key, hours],
  );
  expect(rowCount).toBe(1);
}

describe('command API retention', () => {
  it('starts its purge with the configured windows', async () => {
    const text = await t.registry.metrics();
    expect(text).toMatch(/sluice_purge_window_seconds\{[^}]*table="idempotency_keys"[^}]*\} 172800/);
    expect(text).toMatch(/sluice_purge_window_seconds\{[^}]*table="inbox"[^}]*\} 1209600/);
  });

  it('answers a retry within the idempotency window with the first response, after a purge', async () => {
    const open = await post('/v1/wallets', { currency: 'EUR' }, uniqueName('open'));
    const walletId = open.json<{ walletId: string }>().walletId;
    const key = uniqueName('dep');
    const first = await post(`/v1/wallets/${walletId}/deposits`, { amount: 100, currency: 'EUR' }, key);
    expect(first.statusCode).toBe(201);
    await ageKey(key, 47); // a day and most of another: inside the 48 h window

    await purgeNow();

    const retry = await post(`/v1/wallets/${walletId}/deposits`, { amount: 100, currency: 'EUR' }, key);
    expect(retry.statusCode).toBe(201);
    expect(retry.json()).toEqual(first.json());
  });

  it('forgets a key past the window: the purge deleted it, so the same key is a new command', async () => {
    const open = await post('/v1/wallets', { currency: 'EUR' }, uniqueName('open'));
    const walletId = open.json<{ walletId: string }>().walletId;
    const key = uniqueName('dep');
    const first = await post(`/v1/wallets/${walletId}/deposits`, { amount: 100, currency: 'EUR' }, key);
    await ageKey(key, 49);

    await purgeNow();

    const { rows } = await t.api.pool.query('SELECT 1 FROM idempotency_keys WHERE key = $1', [key]);
    expect(rows).toHaveLength(0);
    const again = await post(`/v1/wallets/${walletId}/deposits`, { amount: 100, currency: 'EUR' }, key);
    expect(again.statusCode).toBe(201);
    expect(again.json<{ balance: number }>().balance).toBe(first.json<{ balance: number }>().balance + 100);
  });

  it('deletes inbox rows older than the inbox window and keeps younger ones', async () => {
    const consumer = uniqueName('group');
    await t.api.pool.query(
      `INSERT INTO inbox (consumer, message_id, outcome_status, outcome, received_at) VALUES
        ($1, 'old', 200, '{}', now() - interval '15 days'), ($1, 'young', 200, '{}', now() - interval '13 days')`,
      [consumer],
    );

    await purgeNow();

    const { rows } = await t.api.pool.query<{ message_id: string }>('SELECT message_id FROM inbox WHERE consumer = $1', [
      consumer,
    ]);
    expect(rows.map((r) => r.message_id)).toEqual(['young']);
  });
});

describe('command topic retention against the inbox window (real Kafka)', () => {
  const kafka = createKafka({ ...testEnv.kafka, clientId: 'retention-test', logger: createLogger('retention-test', 'warn') });
  const settings = (topic: string): CommandApiConfig => ({
    ...config,
    WALLET_COMMANDS_TOPIC: topic,
    WALLET_COMMANDS_DLQ_TOPIC: `${topic}.dlq`,
    WALLET_COMMANDS_PARTITIONS: 1,
  });

  it('creates the command topic with the configured retention, which the inbox window outlasts', async () => {
    const topic = uniqueName('cmd-retention');
    await ensureCommandTopics(settings(topic), createLogger('retention-test', 'warn'));
    expect(await checkCommandTopicRetention(settings(topic), kafka)).toBe(168 * HOUR_MS);
  });

  it('refuses to start when the broker keeps commands longer than the inbox can dedupe them', async () => {
    const topic = uniqueName('cmd-retention-long');
    await ensureTopics(kafka, [{ topic, partitions: 1, config: { 'retention.ms': String(320 * HOUR_MS) } }]);
    const refused = await checkCommandTopicRetention(settings(topic), kafka).catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(ConfigError);
    expect((refused as Error).message).toMatch(
      /INBOX_RETENTION_HOURS \(336\) must exceed the command topic's retention \(320 h\)/,
    );
  });

  it('refuses a command topic kept for ever', async () => {
    const topic = uniqueName('cmd-retention-forever');
    await ensureTopics(kafka, [{ topic, partitions: 1, retainForever: true }]);
    await expect(checkCommandTopicRetention(settings(topic), kafka)).rejects.toThrow(/keeps its records for ever/);
  });
});
