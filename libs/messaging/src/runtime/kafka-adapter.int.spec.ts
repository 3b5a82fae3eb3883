import { createLogger } from '@sluice/observability';
import { createTestTopic, testEnv, uniqueName } from '@sluice/testing';
import type { Producer } from 'kafkajs';
import { createIdempotentProducer, createKafka } from '../kafka';
import { KafkaPublisher, KafkaSubscriber } from './kafka-adapter';
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
