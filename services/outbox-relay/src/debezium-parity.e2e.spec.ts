import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Kafka } from 'kafkajs';
import type { Pool } from 'pg';
import { uuidv7 } from '@sluice/core';
import { applyMigrations, createPool, withTransaction } from '@sluice/db';
import { AvroEventCodec, createKafka, ensureTopics, partitionForKey, routeTopic } from '@sluice/messaging';
import { createLogger } from '@sluice/observability';
import { OutboxSlot, OutboxWriter, type OutboxEvent } from '@sluice/outbox';
import { walletCatalog, type EventCatalog, type WalletEvent } from '@sluice/schemas';
import {
  buildDebezium,
  consumeRecords,
  createTestDatabase,
  freePort,
  startDebezium,
  startService,
  testEnv,
  uniqueName,
  type ConsumedRecord,
  type DebeziumProcess,
  type ServiceProcess,
  type TestDatabase,
} from '@sluice/testing';

/**
 * Sluice's relay and the real Debezium (PostgreSQL connector + Outbox Event Router, through
 * deploy/debezium) read the same outbox table through their own slots and publish to twin topics
 * on the same broker; Sluice's relay runs twice, once per Kafka client it can produce with
 * (RELAY_KAFKA_CLIENT=kafkajs and =platformatic). Every event must come out of both as the same Kafka record: topic (after
 * the prefix), key bytes, value bytes, partition, `id` and `type` headers, and per-partition order.
 *
 * The `timestamp` column is placed as a header on both sides too: a header from a non-text column
 * must render alike (a timestamptz as Debezium's ZonedTimestamp, microseconds included).
 *
 * Known differences, by design on each side (the first two are asserted below):
 * - Debezium adds `__debezium.context.*` headers (connector name, task, run id); Sluice does not.
 * - A null `traceparent` is a null-valued header from Debezium (Connect keeps the header, its
 *   value null); Sluice leaves the header out (the contract: "traceparent when present").
 * - Record timestamps differ: Debezium stamps the time it processed the change (the envelope's
 *   ts_ms; the router cannot read a timestamptz column), Sluice the row's `timestamp` column.
 */

// The first build of the harness resolves Debezium from Maven Central.
jest.setTimeout(180_000);

const PARTITIONS = 12;
const logger = createLogger('debezium-parity', 'warn');

/** A second aggregate type, so routing by aggregatetype is compared on more than one topic. */
const ledgerCatalog: EventCatalog = {
  aggregateType: 'ledger',
  schemas: {
    EntryPosted: {
      type: 'record',
      name: 'EntryPosted',
      namespace: 'dev.sluice.paritytest',
      fields: [
        { name: 'eventId', type: { type: 'string', logicalType: 'uuid' } },
        { name: 'account', type: 'string' },
        { name: 'amount', type: 'long' },
        { name: 'memo', type: 'string' },
      ],
    },
  },
};

let db: TestDatabase;
let pool: Pool;
let kafka: Kafka;
let codec: AvroEventCodec;
let writer: OutboxWriter;
let offsetsDir: string;
let debezium: DebeziumProcess | undefined;
/** Sluice's relay once per Kafka client it can produce with, each through its own slot to its own topics. */
const ours = (['kafkajs', 'platformatic'] as const).map((client) => ({
  client,
  prefix: '',
  pattern: '',
  relay: undefined as ServiceProcess | undefined,
}));
const theirs = { prefix: '', pattern: '' };

beforeAll(async () => {
  // Built first, so a Maven failure reads as one rather than as a start-up timeout.
  await buildDebezium();
  db = await createTestDatabase('dbz_parity');
  pool = createPool({ url: db.url, applicationName: 'debezium-parity', max: 4 });
  await applyMigrations(pool, { folder: join(__dirname, '../../command-api/migrations'), table: '__migrations_command_api' });

  for (const side of ours) {
    side.prefix = `${uniqueName(`parity_sluice_${side.client}`)}.`;
    side.pattern = `${side.prefix}\${routedByValue}`;
  }
  theirs.prefix = `${uniqueName('parity_debezium')}.`;
  theirs.pattern = `${theirs.prefix}\${routedByValue}`;
  kafka = createKafka({ ...testEnv.kafka, clientId: 'debezium-parity', logger });
  const topics = [...ours.map((o) => o.pattern), theirs.pattern].flatMap((p) =>
    ['wallet', 'ledger'].map((t) => routeTopic(p, t)),
  );
  await ensureTopics(
    kafka,
    topics.map((topic) => ({ topic, partitions: PARTITIONS, retainForever: true })),
  );
  codec = AvroEventCodec.connect(testEnv.registryUrl, [walletCatalog, ledgerCatalog], ours[0]!.pattern);
  await codec.registerAll();
  writer = new OutboxWriter(codec);

  // Every slot exists before the first write: ours as the command API makes it, Debezium's when
  // its connector starts (the harness reports `started` once it streams from it).
  const slots = ours.map(() => ({
    slot: uniqueName('parity_slot').toLowerCase(),
    publication: uniqueName('parity_pub').toLowerCase(),
  }));
  for (const { slot, publication } of slots) {
    await new OutboxSlot(pool, slot, publication, { schema: 'public', name: 'outbox' }).ensure();
  }
  offsetsDir = mkdtempSync(join(tmpdir(), 'sluice-debezium-'));
  debezium = await startDebezium({
    databaseUrl: db.url,
    slot: uniqueName('parity_dbz_slot').toLowerCase(),
    publication: uniqueName('parity_dbz_pub').toLowerCase(),
    offsetFile: join(offsetsDir, 'offsets.dat'),
    topicPattern: theirs.pattern,
    stopAfterRecords: plannedEvents(),
    headerColumns: ['type', 'traceparent', 'timestamp'],
  });
  for (const [i, side] of ours.entries()) {
    side.relay = startService(
      'outbox-relay',
      {
        DATABASE_URL: db.url,
        ...testEnv.kafkaEnv,
        SCHEMA_REGISTRY_URL: testEnv.registryUrl,
        RELAY_KAFKA_CLIENT: side.client,
        OUTBOX_TOPIC_PATTERN: side.pattern,
        OUTBOX_SLOT_NAME: slots[i]!.slot,
        OUTBOX_PUBLICATION_NAME: slots[i]!.publication,
        LOG_LEVEL: 'info',
        RELAY_RECONNECT_MAX_MS: '500',
        RELAY_HEADER_COLUMNS: 'traceparent,timestamp',
        // Only the headers Debezium writes, to compare them one for one.
        RELAY_PUBLISHED_AT_HEADER: 'false',
      },
      await freePort(),
    );
  }
  await Promise.all(ours.map((o) => o.relay!.waitReady()));
});

afterAll(async () => {
  await Promise.all([debezium?.stop(), ...ours.map((o) => o.relay?.kill('SIGTERM'))]);
  await pool?.end();
  await db?.drop();
  if (offsetsDir) rmSync(offsetsDir, { recursive: true, force: true });
});

const TRACEPARENT = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

/** What was written, for checking both sides against the contract as well as against each other. */
interface Written {
  aggregateType: string;
  key: string;
  payload: Buffer;
  type: string;
  traceparent?: string;
}

const wallets = [uuidv7(), uuidv7(), uuidv7()];
// Key bytes of every length mod 4 (murmur2's tail), multi-byte UTF-8, and the empty key.
const accounts = ['a', 'ab', 'abc', 'abcd', 'acct-5', 'Zürich-東京-🙂', ''];

function walletOpened(walletId: string): WalletEvent {
  return { type: 'WalletOpened', data: { eventId: uuidv7(), walletId, currency: 'EUR', version: 1, occurredAt: Date.now() } };
}

function deposited(walletId: string, version: number, amount: number): WalletEvent {
  return {
    type: 'FundsDeposited',
    data: {
      eventId: uuidv7(),
      walletId,
      depositId: uuidv7(),
      amount,
      currency: 'EUR',
      balance: amount,
      version,
      occurredAt: Date.now(),
    },
  };
}

function entry(account: string, amount: number, memo = `entry ${amount}`): OutboxEvent {
  const data = { eventId: uuidv7(), account, amount, memo };
  return { aggregateType: 'ledger', aggregateId: account, event: { type: 'EntryPosted', data } };
}

const onWallet = (event: WalletEvent, traceparent?: string): OutboxEvent => ({
  aggregateType: 'wallet',
  aggregateId: event.data.walletId,
  event,
  ...(traceparent && { traceparent }),
});

/** The transactions the test commits, in order; several events each, over several keys and both types. */
function plan(): OutboxEvent[][] {
  const [w1, w2, w3] = wallets as [string, string, string];
  const txns: OutboxEvent[][] = [
    [walletOpened(w1), deposited(w1, 2, 100), deposited(w1, 3, 250)].map((e) => onWallet(e, TRACEPARENT)),
    [onWallet(walletOpened(w2))],
    [onWallet(deposited(w2, 2, 7)), onWallet(walletOpened(w3), TRACEPARENT), ...accounts.map((a, i) => entry(a, i + 1))],
    // A payload large enough for PostgreSQL to store it out of line (TOAST).
    [{ ...entry('abcd', 99, 'x'.repeat(200_000)), traceparent: TRACEPARENT }, onWallet(deposited(w3, 2, 5))],
  ];
  for (let round = 0; round < 5; round++) {
    txns.push([
      onWallet(deposited(w1, 4 + round, 1000 + round), round % 2 ? TRACEPARENT : undefined),
      onWallet(deposited(w2, 3 + round, 2000 + round)),
      entry(accounts[round % accounts.length]!, 3000 + round),
      { ...entry(accounts[(round + 3) % accounts.length]!, 4000 + round), ...(round % 2 ? {} : { traceparent: TRACEPARENT }) },
    ]);
  }
  return txns;
}

const transactions = plan();
function plannedEvents(): number {
  return transactions.reduce((n, t) => n + t.length, 0);
}

describe('Debezium parity: the same outbox table through Sluice and through Debezium', () => {
  it('publishes every event as the same record: topic, key, value, partition, id and type headers, per-partition order', async () => {
    const written = new Map<string, Written>();
    for (const txn of transactions) {
      await withTransaction(pool, (client) => writer.append(client, txn));
      for (const e of txn) {
        written.set(e.event.data.eventId, {
          aggregateType: e.aggregateType,
          key: e.aggregateId,
          payload: codec.encode(e.aggregateType, e.event),
          type: e.event.type,
          ...(e.traceparent && { traceparent: e.traceparent }),
        });
      }
    }
    // Neither side may publish a rolled-back transaction.
    const rolledBack = entry('abc', 1);
    await expect(
      withTransaction(pool, async (client) => {
        await writer.append(client, [rolledBack]);
        throw new Error('abort');
      }),
    ).rejects.toThrow('abort');

    const done = await debezium!.waitDone(60_000);
    expect(done.records).toBe(written.size);
    const perType = (type: string) => [...written.values()].filter((w) => w.aggregateType === type).length;
    const read = async (pattern: string) =>
      (
        await Promise.all(
          ['wallet', 'ledger'].map((type) => consumeRecords(kafka, routeTopic(pattern, type), perType(type), 30_000)),
        )
      ).flat();
    const debeziumRecords = await read(theirs.pattern);
    const dbz = byEventId(debeziumRecords, theirs.prefix);
    expect(dbz.duplicates).toEqual([]);
    expect([...dbz.views.keys()].sort()).toEqual([...written.keys()].sort());
    expect(dbz.views.has(rolledBack.event.data.eventId)).toBe(false);

    for (const side of ours) {
      const sluiceRecords = await read(side.pattern);
      const sluice = byEventId(sluiceRecords, side.prefix);
      expect({ client: side.client, duplicates: sluice.duplicates }).toEqual({ client: side.client, duplicates: [] });
      expect([...sluice.views.keys()].sort()).toEqual([...written.keys()].sort());
      expect(sluice.views.has(rolledBack.event.data.eventId)).toBe(false);

      const mismatches: Record<string, unknown>[] = [];
      let nullTraceparents = 0;
      for (const [id, w] of written) {
        const expected: RecordView = {
          topic: w.aggregateType,
          partition: partitionForKey(w.key, PARTITIONS),
          key: Buffer.from(w.key, 'utf8').toString('hex'),
          value: w.payload.toString('hex'),
          headers: { id, type: w.type, ...(w.traceparent && { traceparent: w.traceparent }) },
        };
        const s = withoutTimestamp(sluice.views.get(id)!);
        const d = withoutTimestamp(dbz.views.get(id)!);
        if (w.traceparent === undefined && d.view.headers.traceparent === null) {
          nullTraceparents++;
          delete d.view.headers.traceparent;
        }
        const diff = differences(expected, s.view, d.view) ?? {};
        // The row's timestamp is the transaction's now(): not known here, so the two sides are
        // compared with each other and with the shape of Debezium's ZonedTimestamp.
        if (s.timestamp !== d.timestamp || !ZONED_TIMESTAMP.test(d.timestamp ?? '')) {
          diff.timestampHeader = { sluice: s.timestamp, debezium: d.timestamp };
        }
        if (Object.keys(diff).length > 0) mismatches.push({ client: side.client, id, ...diff });
      }
      expect(mismatches).toEqual([]);
      // Debezium writes the header with a null value for each event written without a traceparent.
      expect(nullTraceparents).toBe([...written.values()].filter((w) => w.traceparent === undefined).length);

      // The same events in the same order on each partition: both keep WAL order per key.
      expect(partitionOrder(sluiceRecords, side.prefix)).toEqual(partitionOrder(debeziumRecords, theirs.prefix));
    }
    // Debezium's own context headers, so a change in what it adds shows up here.
    const extra = new Set(debeziumRecords.flatMap((r) => Object.keys(r.message.headers ?? {})).filter((k) => k.startsWith('__')));
    expect([...extra].sort()).toEqual([
      '__debezium.context.connectorLogicalName',
      '__debezium.context.connectorName',
      '__debezium.context.runId',
      '__debezium.context.taskId',
    ]);
  });
});

interface RecordView {
  topic: string;
  partition: number;
  key: string | null;
  value: string | null;
  headers: Record<string, string | null>;
}

function view(r: ConsumedRecord, prefix: string): RecordView {
  const headers: Record<string, string | null> = {};
  for (const [k, v] of Object.entries(r.message.headers ?? {})) {
    if (k.startsWith('__debezium.')) continue;
    headers[k] = v === null || v === undefined ? null : Buffer.isBuffer(v) ? v.toString('utf8') : String(v);
  }
  return {
    topic: r.topic.startsWith(prefix) ? r.topic.slice(prefix.length) : `(unprefixed) ${r.topic}`,
    partition: r.partition,
    key: r.message.key?.toString('hex') ?? null,
    value: r.message.value?.toString('hex') ?? null,
    headers,
  };
}

/** io.debezium.time.ZonedTimestamp of a timestamptz column: UTC, six fraction digits. */
const ZONED_TIMESTAMP = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/;

function withoutTimestamp(v: RecordView): { view: RecordView; timestamp: string | null | undefined } {
  const { timestamp, ...headers } = v.headers;
  return { view: { ...v, headers }, timestamp };
}

function byEventId(records: ConsumedRecord[], prefix: string): { views: Map<string, RecordView>; duplicates: string[] } {
  const views = new Map<string, RecordView>();
  const duplicates: string[] = [];
  for (const r of records) {
    const v = view(r, prefix);
    const id = v.headers.id ?? `(no id header) ${r.topic}/${r.partition}@${r.offset}`;
    if (views.has(id)) duplicates.push(id);
    views.set(id, v);
  }
  return { views, duplicates };
}

/** The fields where either side differs from what was written, each with the three values; undefined when none. */
function differences(expected: RecordView, sluice: RecordView, debezium: RecordView): Record<string, unknown> | undefined {
  const out: Record<string, unknown> = {};
  for (const field of ['topic', 'partition', 'key', 'value', 'headers'] as const) {
    const [e, s, d] = [expected, sluice, debezium].map((v) => canonical(v[field]));
    if (s !== e || d !== e) out[field] = { expected: e, sluice: s, debezium: d };
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

/** Comparable text for a field: headers in key order, long hex (a 200 KB payload) clipped after the first bytes. */
function canonical(value: RecordView[keyof RecordView]): string {
  if (value !== null && typeof value === 'object') {
    return JSON.stringify(Object.fromEntries(Object.entries(value).sort(([x], [y]) => x.localeCompare(y))));
  }
  const text = String(value);
  return text.length > 80 ? `${text.slice(0, 64)}… ${text.length / 2} bytes, sha256 ${sha256(text)}` : text;
}

function partitionOrder(records: ConsumedRecord[], prefix: string): Record<string, string[]> {
  const order: Record<string, string[]> = {};
  const sorted = [...records].sort((x, y) => Number(BigInt(x.offset) - BigInt(y.offset)));
  for (const r of sorted) {
    const at = `${r.topic.slice(prefix.length)}/${r.partition}`;
    (order[at] ??= []).push(r.message.headers?.id?.toString() ?? '');
  }
  return order;
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 16);
}
