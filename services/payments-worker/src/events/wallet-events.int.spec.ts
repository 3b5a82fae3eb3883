import { setTimeout as sleep } from 'node:timers/promises';
import type { Kafka, Producer } from 'kafkajs';
import { uuidv7 } from '@sluice/core';
import { applyMigrations, createPool, type Pool } from '@sluice/db';
import {
  AvroEventCodec,
  createIdempotentProducer,
  createKafka,
  DLQ_HEADERS,
  frame,
  KafkaPublisher,
  type BoundConsumer,
} from '@sluice/messaging';
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace-node';
import { createLogger, createMetricsRegistry, createTracing, type Tracer } from '@sluice/observability';
import { walletCatalog, type WalletEvent } from '@sluice/schemas';
import {
  createTestDatabase,
  createTestTopic,
  readTopic,
  TcpProxy,
  testEnv,
  uniqueName,
  waitFor,
  type TestDatabase,
} from '@sluice/testing';
import { PAYMENTS_MIGRATIONS } from '../app';
import { nextStep } from '../saga/saga';
import { SagaStore } from '../saga/saga-store';
import { walletEventsConsumer } from './wallet-events';

/**
 * The wallet events consumer against the real broker, registry and
 * database: nothing it reads is ever skipped. An undecodable record goes to
 * the dead-letter topic with its reason; a registry outage is waited out.
 */
const logger = createLogger('wallet-events-test', 'silent');
let db: TestDatabase;
let pool: Pool;
let kafka: Kafka;
let producer: Producer;
let writer: AvroEventCodec;
let proxy: TcpProxy;
const consumers: BoundConsumer[] = [];
const pattern = `${uniqueName('payev')}.\${routedByValue}`;

beforeAll(async () => {
  db = await createTestDatabase('payev');
  pool = createPool({ url: db.url, applicationName: 'wallet-events-test', max: 4 });
  await applyMigrations(pool, PAYMENTS_MIGRATIONS);
  kafka = createKafka({ ...testEnv.kafka, clientId: 'wallet-events-test', logger });
  producer = createIdempotentProducer(kafka);
  await producer.connect();
  writer = AvroEventCodec.connect(testEnv.registryUrl, [walletCatalog], pattern);
  await writer.registerAll();
  proxy = await TcpProxy.start(testEnv.registryUrl);
});

afterEach(async () => {
  await Promise.all(consumers.splice(0).map((c) => c.stop()));
});

afterAll(async () => {
  await proxy?.close();
  await producer?.disconnect();
  await pool?.end();
  await db?.drop();
});

async function setup(label: string, lookUpFirst?: (requestedAt: Date) => boolean, tracer?: Tracer) {
  const topic = await createTestTopic(kafka, `${label}_events`, 2);
  const dlq = await createTestTopic(kafka, `${label}_dlq`, 1);
  const consumer = walletEventsConsumer(
    {
      kafka,
      pool,
      // A codec of its own behind the proxy: nothing cached from the writer's registrations.
      codec: AvroEventCodec.connect(proxy.via(testEnv.registryUrl), [walletCatalog], pattern),
      store: new SagaStore(pool),
      publisher: new KafkaPublisher(producer),
      logger,
      registry: createMetricsRegistry('t', false),
      onNewSagas: () => undefined,
      ...(lookUpFirst && { lookUpFirst }),
      ...(tracer && { tracer }),
    },
    {
      topic,
      groupId: uniqueName(`${label}_group`),
      fromBeginning: true,
      provider: 'psp-test',
      deadLetterTopic: dlq,
      fetch: { maxWaitTimeInMs: 100, sessionTimeoutMs: 10_000, heartbeatIntervalMs: 1_000 },
      retry: { maxAttempts: 3, baseMs: 20, maxMs: 200 },
    },
  );
  consumers.push(consumer);
  return { topic, dlq, consumer };
}

function withdrawal(walletId = uuidv7(), occurredAt = Date.now()): { id: string; value: Buffer } {
  const id = uuidv7();
  const event: WalletEvent = {
    type: 'WithdrawalRequested',
    data: {
      eventId: uuidv7(),
      walletId,
      withdrawalId: id,
      amount: 100,
      currency: 'EUR',
      balance: 1_000,
      held: 100,
      version: 3,
      occurredAt,
    },
  };
  return { id, value: writer.encode('wallet', event) };
}

const requested = (value: Buffer) => ({ key: 'w', value, partition: 0, headers: { type: 'WithdrawalRequested' } });

async function sagas(ids: string[]): Promise<string[]> {
  const { rows } = await pool.query<{ withdrawal_id: string }>(
    'SELECT withdrawal_id FROM payment_sagas WHERE withdrawal_id = ANY($1::uuid[]) ORDER BY withdrawal_id',
    [ids],
  );
  return rows.map((r) => r.withdrawal_id);
}

describe('wallet events consumer', () => {
  it('an undecodable WithdrawalRequested lands on the dead-letter topic with its reason, and the withdrawals behind it start', async () => {
    const { topic, dlq, consumer } = await setup('undecodable');
    const [a, b] = [withdrawal(), withdrawal()];
    await producer.send({
      topic,
      acks: -1,
      messages: [
        requested(a.value),
        requested(Buffer.from('{"withdrawalId":"not avro"}')),
        requested(frame(2_000_000_000, Buffer.from([1, 2, 3]))),
        requested(b.value),
      ],
    });
    await consumer.start();
    await waitFor('both sagas', async () => (await sagas([a.id, b.id])).length === 2, { timeoutMs: 30_000 });
    const letters = await readTopic(kafka, dlq);
    const header = (i: number, name: string) => letters[i]?.message.headers?.[name]?.toString();
    expect(letters).toHaveLength(2);
    expect([header(0, DLQ_HEADERS.code), header(1, DLQ_HEADERS.code)]).toEqual(['bad_wire_format', 'schema_not_found']);
    expect([header(0, DLQ_HEADERS.offset), header(1, DLQ_HEADERS.offset)]).toEqual(['1', '2']);
    expect(header(0, DLQ_HEADERS.reason)).toMatch(/wire format/);
    expect(header(1, DLQ_HEADERS.reason)).toMatch(/not in the registry/);
    expect(header(0, DLQ_HEADERS.topic)).toBe(topic);
    expect(header(0, 'type')).toBe('WithdrawalRequested');
    expect(letters[0]?.message.value?.toString()).toBe('{"withdrawalId":"not avro"}');
  }, 60_000);

  it('a registry outage while records flow: nothing is skipped or dead-lettered, everything is applied after it', async () => {
    const { topic, dlq, consumer } = await setup('outage');
    await proxy.close();
    try {
      const batch = Array.from({ length: 20 }, () => withdrawal());
      await consumer.start();
      await producer.send({ topic, acks: -1, messages: batch.slice(0, 10).map((w) => requested(w.value)) });
      await sleep(1_500);
      await producer.send({ topic, acks: -1, messages: batch.slice(10).map((w) => ({ ...requested(w.value), partition: 1 })) });
      await sleep(1_500);
      expect(await sagas(batch.map((w) => w.id))).toEqual([]);
      await proxy.open();
      await waitFor('every saga', async () => (await sagas(batch.map((w) => w.id))).length === 20, { timeoutMs: 30_000 });
      expect(await readTopic(kafka, dlq)).toEqual([]);
    } finally {
      await proxy.open();
    }
  }, 60_000);

  it('a withdrawal requested longer ago than the window starts a saga that looks its payout up before sending anything', async () => {
    const { topic, consumer } = await setup('old', (at) => at.getTime() < Date.now() - 60_000);
    const [old, fresh] = [withdrawal(uuidv7(), Date.now() - 3_600_000), withdrawal()];
    await producer.send({ topic, acks: -1, messages: [requested(old.value), requested(fresh.value)] });
    await consumer.start();
    await waitFor('both sagas', async () => (await sagas([old.id, fresh.id])).length === 2, { timeoutMs: 30_000 });
    const store = new SagaStore(pool);
    const client = await pool.connect();
    try {
      const [o, f] = [await store.lock(client, old.id), await store.lock(client, fresh.id)];
      expect(o?.lookUpFirst).toBe(true);
      expect(nextStep(o!)).toBe('look_up');
      expect(f?.lookUpFirst).toBe(false);
      expect(nextStep(f!)).toBe('send_payout');
    } finally {
      client.release();
    }
  }, 60_000);

  it('keeps with each saga the traceparent of the span that handled its WithdrawalRequested, or the unrecorded one it came with', async () => {
    const exporter = new InMemorySpanExporter();
    const { tracer } = createTracing('payments-worker', { exporter: 'none', sampleRatio: 1 }, exporter);
    const { topic, consumer } = await setup('traced', undefined, tracer);
    const TRACE = '0af7651916cd43dd8448eb211c80319c';
    const recorded = `00-${TRACE}-b7ad6b7169203331-01`;
    const unrecorded = `00-${TRACE}-c7ad6b7169203332-00`;
    const [a, b, c] = [withdrawal(), withdrawal(), withdrawal()];
    await producer.send({
      topic,
      acks: -1,
      messages: [
        { ...requested(a.value), headers: { type: 'WithdrawalRequested', traceparent: recorded } },
        { ...requested(b.value), headers: { type: 'WithdrawalRequested', traceparent: unrecorded } },
        requested(c.value),
      ],
    });
    await consumer.start();
    await waitFor('three sagas', async () => (await sagas([a.id, b.id, c.id])).length === 3, { timeoutMs: 30_000 });
    const { rows } = await pool.query<{ withdrawal_id: string; traceparent: string | null }>(
      'SELECT withdrawal_id, traceparent FROM payment_sagas WHERE withdrawal_id = ANY($1::uuid[])',
      [[a.id, b.id, c.id]],
    );
    const stored = new Map(rows.map((r) => [r.withdrawal_id, r.traceparent]));
    const handled = exporter.getFinishedSpans().find((s) => s.parentSpanContext?.spanId === 'b7ad6b7169203331')!;
    expect(stored.get(a.id)).toBe(`00-${TRACE}-${handled.spanContext().spanId}-01`);
    expect(stored.get(b.id)).toBe(unrecorded);
    expect(stored.get(c.id)).toBeNull();
  });
});
