import { join } from 'node:path';
import type { Admin, Kafka, Producer } from 'kafkajs';
import type { Pool } from 'pg';
import { uuidv7 } from '@sluice/core';
import { applyMigrations, createPool, withTransaction } from '@sluice/db';
import {
  AvroEventCodec,
  createIdempotentProducer,
  createKafka,
  ensureTopics,
  partitionForKey,
  routeTopic,
} from '@sluice/messaging';
import { createLogger, createMetricsRegistry } from '@sluice/observability';
import { OutboxSlot, OutboxWriter, parseLsn, type OutboxEvent } from '@sluice/outbox';
import { walletCatalog, type WalletEvent } from '@sluice/schemas';
import { consumeRecords, createTestDatabase, testEnv, uniqueName, waitFor, type TestDatabase } from '@sluice/testing';
import { createRelayMetrics } from './metrics';
import { Relay, type RelayOptions } from './relay';

const logger = createLogger('relay-test', 'warn');
let db: TestDatabase;
let pool: Pool;
let kafka: Kafka;
let producer: Producer;
let admin: Admin;
let codec: AvroEventCodec;
let writer: OutboxWriter;
let pattern: string;
let topic: string;
let options: RelayOptions;

beforeAll(async () => {
  db = await createTestDatabase('relay');
  pool = createPool({ url: db.url, applicationName: 'relay-test', max: 4 });
  await applyMigrations(pool, { folder: join(__dirname, '../../command-api/migrations'), table: '__migrations_command_api' });
  pattern = `${uniqueName('relay')}.\${routedByValue}`;
  topic = routeTopic(pattern, 'wallet');
  kafka = createKafka({ brokers: testEnv.kafkaBrokers, clientId: 'relay-test', logger });
  await ensureTopics(kafka, [{ topic, partitions: 12, retainForever: true }]);
  codec = AvroEventCodec.connect(testEnv.registryUrl, [walletCatalog], pattern);
  await codec.registerAll();
  writer = new OutboxWriter(codec, 'wal');
  producer = createIdempotentProducer(kafka);
  admin = kafka.admin();
  await Promise.all([producer.connect(), admin.connect()]);
  options = {
    databaseUrl: db.url,
    slot: uniqueName('slot').toLowerCase(),
    publication: uniqueName('pub').toLowerCase(),
    table: { schema: 'public', name: 'outbox' },
    topicPattern: pattern,
    headerColumns: ['traceparent'],
    limits: { maxRecordsInFlight: 200, maxBytesInFlight: 1024 * 1024, maxBatchRecords: 50 },
    statusIntervalMs: 100,
    retainedWalWarnBytes: 1024 ** 3,
    reconnectBackoff: { initialMs: 50, maxMs: 200 },
  };
  // As the command side does at start-up: the slot exists before the first write.
  await new OutboxSlot(pool, options.slot, options.publication, options.table).ensure();
});

afterAll(async () => {
  await Promise.all([producer?.disconnect(), admin?.disconnect()]);
  await pool?.end();
  await db?.drop();
});

function startRelay(): { relay: Relay; done: Promise<void> } {
  const relay = new Relay(options, pool, producer, admin, createRelayMetrics(createMetricsRegistry('t', false)), logger);
  return { relay, done: relay.run() };
}

let seq = 0;
function deposited(walletId: string, version: number): WalletEvent {
  seq++;
  return {
    type: 'FundsDeposited',
    data: {
      eventId: uuidv7(),
      walletId,
      depositId: uuidv7(),
      amount: seq,
      currency: 'EUR',
      balance: seq,
      version,
      occurredAt: Date.now(),
    },
  };
}

async function commit(events: OutboxEvent[]): Promise<void> {
  await withTransaction(pool, (client) => writer.append(client, events));
}

const asOutbox = (event: WalletEvent, traceparent?: string): OutboxEvent => ({
  aggregateType: 'wallet',
  aggregateId: event.data.walletId,
  event,
  ...(traceparent && { traceparent }),
});

describe('outbox relay (real PostgreSQL and Kafka)', () => {
  it('publishes each committed outbox row with its key, Java partition, payload bytes and headers; confirms the WAL only after Kafka acknowledged', async () => {
    const { relay, done } = startRelay();
    try {
      const wallets = [uuidv7(), uuidv7(), uuidv7()];
      const events = wallets.flatMap((w) => [deposited(w, 2), deposited(w, 3)]);
      const traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
      await commit(events.slice(0, 2).map((e) => asOutbox(e, traceparent)));
      await commit(events.slice(2).map((e) => asOutbox(e)));
      const { rows } = await pool.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn');
      const committedUpTo = parseLsn(rows[0]!.lsn);

      const records = await consumeRecords(kafka, topic, events.length);
      expect(records).toHaveLength(events.length);
      for (const event of events) {
        const r = records.find((x) => x.message.headers?.id?.toString() === event.data.eventId);
        expect(r).toBeDefined();
        expect(r!.message.key!.toString()).toBe(event.data.walletId);
        expect(r!.partition).toBe(partitionForKey(event.data.walletId, 12));
        expect(r!.message.value!.equals(codec.encode('wallet', event))).toBe(true);
        expect(r!.message.headers!.type!.toString()).toBe('FundsDeposited');
        expect(await codec.decode(r!.message.value!)).toMatchObject({ type: 'FundsDeposited', data: event.data });
      }
      const traced = records.filter((x) => x.message.headers?.traceparent?.toString() === traceparent);
      expect(traced).toHaveLength(2);

      await waitFor('the slot to confirm the committed position', async () => {
        const { rows: slot } = await pool.query<{ lsn: string }>(
          'SELECT confirmed_flush_lsn::text AS lsn FROM pg_replication_slots WHERE slot_name = $1',
          [options.slot],
        );
        return parseLsn(slot[0]!.lsn) >= committedUpTo;
      });
    } finally {
      await relay.stop();
      await done;
    }
  });

  it('resumes after a restart from the confirmed position, without republishing what Kafka acknowledged', async () => {
    const w = uuidv7();
    const first = [deposited(w, 2), deposited(w, 3)];
    const second = [deposited(w, 4), deposited(w, 5), deposited(w, 6)];
    const before = await countOn(topic);

    const a = startRelay();
    await commit(first.map((e) => asOutbox(e)));
    await waitFor('first events in Kafka', async () => (await countOn(topic)) >= before + first.length);
    await a.relay.stop();
    await a.done;

    await commit(second.map((e) => asOutbox(e)));
    const b = startRelay();
    try {
      await waitFor('second events in Kafka', async () => (await countOn(topic)) >= before + first.length + second.length);
      // Give a duplicate the chance to show up before counting.
      await new Promise((r) => setTimeout(r, 500));
      expect(await countOn(topic)).toBe(before + first.length + second.length);
    } finally {
      await b.relay.stop();
      await b.done;
    }
  });

  it('keeps per-key order through a large transaction that passes the in-flight cap, and never publishes rolled-back rows', async () => {
    const keyTopic = routeTopic(pattern, 'wallet');
    const before = await countOn(keyTopic);
    const wallets = Array.from({ length: 20 }, () => uuidv7());
    const big = Array.from({ length: 3000 }, (_, i) =>
      deposited(wallets[i % wallets.length]!, 2 + Math.floor(i / wallets.length)),
    );
    const rolledBack = deposited(uuidv7(), 2);
    await expect(
      withTransaction(pool, async (client) => {
        await writer.append(client, [asOutbox(rolledBack)]);
        throw new Error('abort');
      }),
    ).rejects.toThrow('abort');

    const { relay, done } = startRelay();
    try {
      await commit(big.map((e) => asOutbox(e)));
      const records = await consumeRecords(kafka, keyTopic, before + big.length, 60_000);
      const fresh = records.filter((r) => wallets.includes(r.message.key!.toString()));
      expect(fresh).toHaveLength(big.length);
      expect(records.some((r) => r.message.headers?.id?.toString() === rolledBack.data.eventId)).toBe(false);
      for (const w of wallets) {
        const versions = await Promise.all(
          fresh
            .filter((r) => r.message.key!.toString() === w)
            .sort((x, y) => Number(BigInt(x.offset) - BigInt(y.offset)))
            .map(async (r) => ((await codec.decode(r.message.value!)).data as { version: number }).version),
        );
        expect(versions).toEqual([...versions].sort((x, y) => x - y));
        expect(new Set(versions).size).toBe(versions.length);
      }
    } finally {
      await relay.stop();
      await done;
    }
  });
});

async function countOn(t: string): Promise<number> {
  const offsets = await admin.fetchTopicOffsets(t);
  return offsets.reduce((sum, p) => sum + Number(p.high) - Number(p.low), 0);
}
