import { setTimeout as sleep } from 'node:timers/promises';
import { createLogger } from '@sluice/observability';
import { createTestTopic, testEnv, uniqueName, waitFor } from '@sluice/testing';
import type { Producer } from 'kafkajs';
import { Registry } from 'prom-client';
import { createIdempotentProducer, createKafka } from '../kafka';
import { KafkaPublisher, KafkaSubscriber } from './kafka-adapter';
import { ConsumerMetrics } from './metrics';
import { subscriberContract } from './subscriber-contract';

const logger = createLogger('runtime-contract', 'warn');
const kafka = createKafka({ ...testEnv.kafka, clientId: 'runtime-contract', logger });
let producer: Producer;

beforeAll(async () => {
  producer = createIdempotentProducer(kafka);
  await producer.connect();
});

afterAll(async () => {
  await producer.disconnect();
});

subscriberContract('kafkajs', () => ({
  async topic(partitions) {
    return createTestTopic(kafka, 'contract', partitions);
  },
  group: () => uniqueName('contract_group'),
  publisher: {
    publish: (topic, messages) => new KafkaPublisher(producer).publish(topic, messages),
  },
  subscriber: (topic, group) =>
    new KafkaSubscriber({
      kafka,
      groupId: group,
      topics: [topic],
      fromBeginning: true,
      fetch: { maxWaitTimeInMs: 100, sessionTimeoutMs: 10_000, heartbeatIntervalMs: 1_000 },
      redelivery: { baseMs: 10, maxMs: 50 },
      logger,
    }),
  timeoutMs: 20_000,
}));

describe('KafkaSubscriber lingering when busy', () => {
  it('handles the first record after a quiet spell at once, and once records stream in, fetches once per linger', async () => {
    const LINGER_MS = 400;
    const STREAM = 120;
    const topic = await createTestTopic(kafka, 'linger', 1);
    const registry = new Registry();
    const metrics = ConsumerMetrics.for(registry);
    const group = uniqueName('linger_group');
    const subscriber = new KafkaSubscriber({
      kafka,
      groupId: group,
      topics: [topic],
      fromBeginning: true,
      fetch: { maxWaitTimeInMs: 100, lingerMs: LINGER_MS, sessionTimeoutMs: 10_000, heartbeatIntervalMs: 1_000 },
      logger,
      metrics,
    });
    const batches: { at: number; values: string[] }[] = [];
    let assigned!: () => void;
    const joined = new Promise<void>((resolve) => (assigned = resolve));
    await subscriber.start(
      async (messages) => {
        batches.push({ at: Date.now(), values: messages.map((m) => String(m.record.value)) });
      },
      { onAssigned: () => assigned() },
    );
    try {
      await joined;
      await sleep(300); // quiet: the consumer waits in a fetch
      const publisher = new KafkaPublisher(producer);
      const firstSentAt = Date.now();
      await publisher.publish(topic, [{ key: 'k', value: Buffer.from('0') }]);
      await waitFor('the first record', async () => batches.length === 1, { timeoutMs: 10_000 });
      expect(batches[0]!.values).toEqual(['0']);
      expect(batches[0]!.at - firstSentAt).toBeLessThan(LINGER_MS);
      // A stream of about 100 records a second: once its rate is known (250 ms), each linger gathers dozens.
      for (let i = 1; i <= STREAM; i++) {
        await sleep(10);
        await publisher.publish(topic, [{ key: 'k', value: Buffer.from(String(i)) }]);
      }
      await waitFor('every record', async () => batches.flatMap((b) => b.values).length === STREAM + 1, {
        timeoutMs: 10_000,
      });
      expect(batches.flatMap((b) => b.values)).toEqual(Array.from({ length: STREAM + 1 }, (_, i) => String(i)));
      // Without lingering each record is a fetch and a batch of its own (about 120 of them).
      expect(batches.length).toBeLessThanOrEqual(STREAM / 2);
      const lingered = (await registry.getSingleMetric('sluice_consumer_linger_seconds_total')!.get()).values;
      expect(lingered.find((v) => v.labels.group === group)?.value ?? 0).toBeGreaterThan(0);
    } finally {
      await subscriber.stop();
    }
  }, 30_000);
});

describe('KafkaSubscriber committing at an interval', () => {
  it("commits each partition's first offset at once and defers the next ones to the interval", async () => {
    const topic = await createTestTopic(kafka, 'commit_interval', 2);
    const group = uniqueName('commit_interval_group');
    const subscriber = new KafkaSubscriber({
      kafka,
      groupId: group,
      topics: [topic],
      fromBeginning: false,
      fetch: { maxWaitTimeInMs: 100, sessionTimeoutMs: 10_000, heartbeatIntervalMs: 1_000 },
      commitIntervalMs: 60_000,
      logger,
    });
    const handled = new Map<number, string[]>([
      [0, []],
      [1, []],
    ]);
    let assigned!: () => void;
    const joined = new Promise<void>((resolve) => (assigned = resolve));
    await subscriber.start(
      async (messages) => {
        for (const { record } of messages) handled.get(record.partition)!.push(record.offset);
      },
      { onAssigned: () => assigned() },
    );
    const admin = kafka.admin();
    await admin.connect();
    const committed = async (partition: number) =>
      (await admin.fetchOffsets({ groupId: group, topics: [topic] }))[0]!.partitions.find((p) => p.partition === partition)!
        .offset;
    const next = (partition: number, i: number) => String(Number(handled.get(partition)![i]) + 1);
    const publish = (partition: number, value: string) =>
      new KafkaPublisher(producer).publish(topic, [{ key: 'k', value: Buffer.from(value), partition }]);
    try {
      await joined;
      await sleep(300);
      await publish(0, 'a');
      await waitFor('partition 0 committed', async () => handled.get(0)!.length === 1 && (await committed(0)) === next(0, 0), {
        timeoutMs: 10_000,
      });
      // Within the interval of that commit, partition 1's first record: committed at once all the same. A crash
      // before a deferred first commit would restart partition 1 at its end, past what was handled and after.
      await publish(1, 'b');
      await waitFor('partition 1 committed', async () => handled.get(1)!.length === 1 && (await committed(1)) === next(1, 0), {
        timeoutMs: 5_000,
      });
      await publish(1, 'c');
      await waitFor('the second record of partition 1', async () => handled.get(1)!.length === 2, { timeoutMs: 10_000 });
      await sleep(500);
      expect(await committed(1)).toBe(next(1, 0));
      await subscriber.stop(); // stopping commits what is pending
      expect(await committed(1)).toBe(next(1, 1));
    } finally {
      await subscriber.stop();
      await admin.disconnect();
    }
  }, 30_000);
});
