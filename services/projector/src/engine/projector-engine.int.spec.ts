import { eq } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/node-postgres';
import type { Admin, Kafka, Producer } from 'kafkajs';
import { uuidv7 } from '@sluice/core';
import { applyMigrations, createPool, type Pool } from '@sluice/db';
import { AvroEventCodec, createKafka, ensureTopics, frame, partitionForKey, routeTopic } from '@sluice/messaging';
import { createLogger, createMetricsRegistry, type Registry } from '@sluice/observability';
import { WALLET_PROJECTION_MIGRATIONS, walletBalances } from '@sluice/projection-wallet';
import { walletCatalog, type WalletEvent } from '@sluice/schemas';
import { consumeRecords, createTestDatabase, testEnv, uniqueName, waitFor, type TestDatabase } from '@sluice/testing';
import { projectorCheckpoints } from '../checkpoints/table';
import { PROJECTOR_MIGRATIONS } from '../migrations';
import { walletProjection } from '../wallet-projection';
import { BatchApplier } from './batch-applier';
import { decodeRecords } from './decode';
import { ProjectorEngine } from './projector-engine';

const PARTITIONS = 12;
const logger = createLogger('projector-int', 'silent');

let db: TestDatabase;
let pool: Pool;
let kafka: Kafka;
let admin: Admin;
let producer: Producer;
let codec: AvroEventCodec;
let topic: string;
const engines: ProjectorEngine<WalletEvent>[] = [];

beforeAll(async () => {
  db = await createTestDatabase('projector');
  pool = createPool({ url: db.url, applicationName: 'projector-int', max: 8 });
  await applyMigrations(pool, PROJECTOR_MIGRATIONS);
  await applyMigrations(pool, WALLET_PROJECTION_MIGRATIONS);
  const pattern = `${uniqueName('it_projector')}.\${routedByValue}`;
  topic = routeTopic(pattern, walletCatalog.aggregateType);
  kafka = createKafka({ brokers: testEnv.kafkaBrokers, clientId: 'projector-int', logger });
  await ensureTopics(kafka, [{ topic, partitions: PARTITIONS }]);
  admin = kafka.admin();
  await admin.connect();
  producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  codec = AvroEventCodec.connect(testEnv.registryUrl, [walletCatalog], pattern);
  await codec.registerAll();
});

afterAll(async () => {
  await Promise.all(engines.map((e) => e.stop()));
  await producer?.disconnect();
  await admin?.deleteTopics({ topics: [topic] }).catch(() => undefined);
  await admin?.disconnect();
  await pool?.end();
  await db?.drop();
});

interface Running {
  engine: ProjectorEngine<WalletEvent>;
  /** A fresh registry per engine, so its counters show what this run did. */
  registry: Registry;
}

async function startEngine(groupId: string): Promise<Running> {
  const registry = createMetricsRegistry('projector-int', false);
  const engine = new ProjectorEngine({
    kafka,
    pool,
    codec,
    projection: walletProjection,
    topic,
    groupId,
    logger,
    registry,
    consumer: { sessionTimeoutMs: 10_000, heartbeatIntervalMs: 1_000, maxWaitTimeMs: 200 },
  });
  engines.push(engine);
  await engine.start();
  return { engine, registry };
}

async function stopEngine(engine: ProjectorEngine<WalletEvent>): Promise<void> {
  await engine.stop();
  engines.splice(engines.indexOf(engine), 1);
}

async function produce(events: WalletEvent[]): Promise<void> {
  await producer.send({
    topic,
    acks: -1,
    messages: events.map((e) => ({
      key: e.data.walletId,
      value: codec.encode('wallet', e),
      partition: partitionForKey(e.data.walletId, PARTITIONS),
      headers: { id: e.data.eventId, type: e.type },
    })),
  });
}

async function produceRaw(key: string, value: Buffer): Promise<void> {
  await producer.send({ topic, acks: -1, messages: [{ key, value, partition: partitionForKey(key, PARTITIONS) }] });
}

const T0 = Date.parse('2025-06-01T10:00:00.000Z');

function opened(walletId: string, currency = 'EUR'): WalletEvent {
  return { type: 'WalletOpened', data: { eventId: uuidv7(), walletId, currency, version: 1, occurredAt: T0 } };
}

function deposited(walletId: string, version: number, amount: number, balance: number): WalletEvent {
  return {
    type: 'FundsDeposited',
    data: {
      eventId: uuidv7(),
      walletId,
      depositId: uuidv7(),
      amount,
      currency: 'EUR',
      balance,
      version,
      occurredAt: T0 + version * 1_000,
    },
  };
}

async function readModel(): Promise<Map<string, { balance: number; version: number; currency: string; updatedAt: Date }>> {
  const rows = await drizzle(pool).select().from(walletBalances);
  return new Map(
    rows.map((r) => [r.walletId, { balance: r.balance, version: r.version, currency: r.currency, updatedAt: r.updatedAt }]),
  );
}

async function wallet(walletId: string): Promise<{ balance: number; version: number } | undefined> {
  const [row] = await drizzle(pool).select().from(walletBalances).where(eq(walletBalances.walletId, walletId));
  return row && { balance: row.balance, version: row.version };
}

async function checkpoints(groupId: string): Promise<Map<number, bigint>> {
  const rows = await drizzle(pool).select().from(projectorCheckpoints).where(eq(projectorCheckpoints.consumerGroup, groupId));
  return new Map(rows.filter((r) => r.topic === topic).map((r) => [r.partition, r.nextOffset]));
}

async function highWatermarks(): Promise<Map<number, bigint>> {
  const offsets = await admin.fetchTopicOffsets(topic);
  return new Map(offsets.map((o) => [o.partition, BigInt(o.high)]));
}

/** Sum of a counter's or gauge's values whose labels include `labels`. */
async function metric(registry: Registry, name: string, labels: Record<string, string> = {}): Promise<number> {
  const m = registry.getSingleMetric(name);
  if (!m) throw new Error(`metric ${name} is not registered`);
  const { values } = await m.get();
  return values
    .filter((v) => Object.entries(labels).every(([k, want]) => String(v.labels[k]) === want))
    .reduce((sum, v) => sum + v.value, 0);
}

/** Waits until every partition's checkpoint has reached its high watermark. */
async function caughtUp(groupId: string): Promise<void> {
  await waitFor(
    `group ${groupId} to reach the high watermarks`,
    async () => {
      const [stored, high] = await Promise.all([checkpoints(groupId), highWatermarks()]);
      return [...high].every(([p, h]) => h === 0n || stored.get(p) === h);
    },
    { timeoutMs: 30_000 },
  );
}

describe('ProjectorEngine against Kafka and PostgreSQL', () => {
  const groupId = uniqueName('it_projector_group');
  const a = uuidv7();
  const b = uuidv7();
  const c = uuidv7();
  let snapshot: Awaited<ReturnType<typeof readModel>>;
  let running: Running;

  it('folds produced events into the read model and checkpoints every partition', async () => {
    const aV2 = deposited(a, 2, 100, 100);
    // The second aV2 is what the relay repeats after a crash: a duplicate at a later offset.
    await produce([opened(a), aV2, deposited(a, 3, 50, 150), aV2, opened(b), deposited(b, 2, 7, 7), opened(c, 'USD')]);

    running = await startEngine(groupId);
    const { registry } = running;
    await caughtUp(groupId);

    snapshot = await readModel();
    expect(snapshot.get(a)).toEqual({ balance: 150, version: 3, currency: 'EUR', updatedAt: new Date(T0 + 3_000) });
    expect(snapshot.get(b)).toMatchObject({ balance: 7, version: 2 });
    expect(snapshot.get(c)).toMatchObject({ balance: 0, version: 1, currency: 'USD' });
    expect(await metric(registry, 'sluice_projector_events_applied_total')).toBe(6);
    expect(await metric(registry, 'sluice_projector_events_skipped_total', { reason: 'duplicate' })).toBe(1);
    expect(await metric(registry, 'sluice_projector_lag')).toBe(0);
  });

  it('commits the checkpoint to Kafka as well, after the database', async () => {
    const stored = await checkpoints(groupId);
    await waitFor('Kafka committed offsets to match the checkpoints', async () => {
      const [committed] = await admin.fetchOffsets({ groupId, topics: [topic] });
      return committed?.partitions.every((p) => BigInt(p.offset) === (stored.get(p.partition) ?? -1n));
    });
  });

  it('skips a redelivered batch inside the transaction: records below the checkpoint change nothing', async () => {
    const before = await checkpoints(groupId);
    const records = await consumeRecords(kafka, topic, 7);
    const applier = new BatchApplier(pool, walletProjection);
    for (const partition of new Set(records.map((r) => r.partition))) {
      const messages = records.filter((r) => r.partition === partition).map((r) => r.message);
      const result = await applier.apply(
        { consumerGroup: groupId, topic, partition },
        await decodeRecords(codec, walletProjection, messages),
      );
      expect(result).toMatchObject({ alreadyCheckpointed: messages.length, results: [], nextOffset: before.get(partition) });
    }
    expect(await readModel()).toEqual(snapshot);
    expect(await checkpoints(groupId)).toEqual(before);
  });

  it('resumes from its database checkpoint after a restart, even when Kafka offsets were reset to the beginning', async () => {
    await stopEngine(running.engine);
    await admin.resetOffsets({ groupId, topic, earliest: true });
    await produce([deposited(a, 4, 25, 175)]);

    running = await startEngine(groupId);
    const { registry } = running;
    await waitFor('the new deposit to be applied', async () => (await wallet(a))?.version === 4);
    await caughtUp(groupId);

    expect(await wallet(a)).toEqual({ balance: 175, version: 4 });
    expect(await metric(registry, 'sluice_projector_events_applied_total')).toBe(1);
    // Sought to the checkpoint on assignment: nothing below it was even fetched, let alone folded.
    expect(await metric(registry, 'sluice_projector_events_skipped_total')).toBe(0);
    snapshot = await readModel();
  });

  it('a new consumer group re-reading everything applies nothing twice: the version guard holds', async () => {
    const otherGroup = uniqueName('it_projector_replay');
    const { engine, registry } = await startEngine(otherGroup);
    await caughtUp(otherGroup);
    await stopEngine(engine);

    expect(await readModel()).toEqual(snapshot);
    expect(await metric(registry, 'sluice_projector_events_applied_total')).toBe(0);
    expect(await metric(registry, 'sluice_projector_events_skipped_total', { reason: 'duplicate' })).toBe(8);
  });

  it('skips undecodable records and version gaps with a metric and keeps consuming', async () => {
    const d = uuidv7();
    const e = uuidv7();
    const { registry } = running;
    const appliedBefore = await metric(registry, 'sluice_projector_events_applied_total');
    await produceRaw(d, Buffer.from('{"not":"avro"}'));
    await produceRaw(d, frame(2_147_483_000, Buffer.from([0]))); // a schema id the registry never issued
    await produce([opened(d), deposited(d, 3, 5, 5), opened(e)]);

    await waitFor('the wallet after the bad records to be applied', async () => (await wallet(e))?.version === 1);
    await caughtUp(groupId);

    expect(await wallet(d)).toEqual({ balance: 0, version: 1 });
    expect(await metric(registry, 'sluice_projector_events_undecodable_total', { reason: 'bad_wire_format' })).toBe(1);
    expect(await metric(registry, 'sluice_projector_events_undecodable_total', { reason: 'schema_not_found' })).toBe(1);
    expect(await metric(registry, 'sluice_projector_events_skipped_total', { reason: 'version_gap' })).toBe(1);
    expect((await metric(registry, 'sluice_projector_events_applied_total')) - appliedBefore).toBe(2);
  });

  it('rolls a failed batch back whole: no rows and no checkpoint move', async () => {
    const f = uuidv7();
    await stopEngine(running.engine);
    await produce([opened(f)]);
    const partition = partitionForKey(f, PARTITIONS);
    const before = await checkpoints(groupId);
    const total = [...(await highWatermarks()).values()].reduce((sum, h) => sum + Number(h), 0);
    const record = (await consumeRecords(kafka, topic, total)).find((r) => r.message.key?.toString() === f);
    expect(record).toBeDefined();
    const failing = {
      ...walletProjection,
      apply: async (...args: Parameters<typeof walletProjection.apply>) => {
        await walletProjection.apply(...args);
        throw new Error('the projection failed after writing');
      },
    };

    const applier = new BatchApplier(pool, failing);
    const decoded = await decodeRecords(codec, failing, [record!.message]);
    await expect(applier.apply({ consumerGroup: groupId, topic, partition }, decoded)).rejects.toThrow('failed after writing');

    expect(await wallet(f)).toBeUndefined();
    expect(await checkpoints(groupId)).toEqual(before);
    running = await startEngine(groupId);
    await waitFor('the wallet to be applied once the projection works', async () => (await wallet(f))?.version === 1);
  });

  it('two members of one group apply every event exactly once across a rebalance', async () => {
    const wallets = Array.from({ length: 24 }, () => uuidv7());
    const history = (w: string): WalletEvent[] => [
      opened(w),
      deposited(w, 2, 10, 10),
      deposited(w, 3, 10, 20),
      deposited(w, 4, 10, 30),
    ];
    const first = running;
    const appliedBefore = await metric(first.registry, 'sluice_projector_events_applied_total');

    await produce(wallets.slice(0, 12).flatMap(history));
    const second = await startEngine(groupId);
    await produce(wallets.slice(12).flatMap(history));
    await waitFor('both members to own partitions', () => second.engine.ownedPartitions().length > 0);
    await caughtUp(groupId);

    const model = await readModel();
    for (const w of wallets) expect(model.get(w)).toMatchObject({ balance: 30, version: 4 });
    const applied =
      (await metric(first.registry, 'sluice_projector_events_applied_total')) -
      appliedBefore +
      (await metric(second.registry, 'sluice_projector_events_applied_total'));
    expect(applied).toBe(wallets.length * 4);
    const duplicates =
      (await metric(first.registry, 'sluice_projector_events_skipped_total', { reason: 'duplicate' })) +
      (await metric(second.registry, 'sluice_projector_events_skipped_total', { reason: 'duplicate' }));
    expect(duplicates).toBe(0);
    expect(first.engine.ownedPartitions().length + second.engine.ownedPartitions().length).toBe(PARTITIONS);
  });
});
