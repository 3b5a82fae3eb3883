import type { Kafka, KafkaMessage } from 'kafkajs';
import { setTimeout as sleep } from 'node:timers/promises';
import { testEnv } from './env';
import { uniqueName } from './names';

export interface ConsumedRecord {
  topic: string;
  partition: number;
  offset: string;
  message: KafkaMessage;
}

/** Reads a topic from the beginning until `count` records arrived (or fails on timeout). */
export async function consumeRecords(kafka: Kafka, topic: string, count: number, timeoutMs = 20_000): Promise<ConsumedRecord[]> {
  const consumer = kafka.consumer({ groupId: uniqueName('test_reader'), allowAutoTopicCreation: false });
  const records: ConsumedRecord[] = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`only ${records.length} of ${count} records arrived on ${topic} within ${timeoutMs} ms`)),
        timeoutMs,
      );
      void consumer.run({
        autoCommit: false,
        eachMessage: async ({ topic: t, partition, message }) => {
          records.push({ topic: t, partition, offset: message.offset, message });
          if (records.length >= count) {
            clearTimeout(timer);
            resolve();
          }
        },
      });
    });
  } finally {
    await consumer.disconnect();
  }
  return records;
}

/**
 * Creates a topic with a unique name and waits for its leaders. A broker
 * that has just created a topic can still answer "does not host this
 * topic-partition" to the metadata request that waits for the leaders: tried again.
 */
export async function createTestTopic(kafka: Kafka, prefix: string, partitions: number, suffix = ''): Promise<string> {
  const topic = `${uniqueName(prefix)}${suffix}`;
  const admin = kafka.admin();
  await admin.connect();
  try {
    for (let attempt = 1; ; attempt++) {
      try {
        const existing = await admin.listTopics();
        if (!existing.includes(topic)) {
          await admin.createTopics({
            topics: [{ topic, numPartitions: partitions, replicationFactor: -1 }],
            waitForLeaders: true,
          });
        }
        await admin.fetchTopicOffsets(topic);
        return topic;
      } catch (err) {
        if (attempt >= 10) throw err;
        await sleep(200);
      }
    }
  } finally {
    await admin.disconnect();
  }
}

/** Every record of a topic, from the beginning, as far as its end when called. */
export async function readTopic(kafka: Kafka, topic: string, timeoutMs = 20_000): Promise<ConsumedRecord[]> {
  const admin = kafka.admin();
  await admin.connect();
  let total = 0;
  try {
    for (const p of await admin.fetchTopicOffsets(topic)) total += Number(p.high) - Number(p.low);
  } finally {
    await admin.disconnect();
  }
  return total === 0 ? [] : consumeRecords(kafka, topic, total, timeoutMs);
}

/**
 * The admin connection as Java client properties (Kafka's own tools, Debezium's
 * producer): the password goes inline into sasl.jaas.config, the CA as a PEM truststore.
 */
export function javaKafkaProperties(): Record<string, string> {
  const { security } = testEnv.kafka;
  const props: Record<string, string> = { 'security.protocol': security.protocol };
  if (security.sasl) {
    const { mechanism, username, password } = security.sasl;
    const module =
      mechanism === 'PLAIN'
        ? 'org.apache.kafka.common.security.plain.PlainLoginModule'
        : 'org.apache.kafka.common.security.scram.ScramLoginModule';
    props['sasl.mechanism'] = mechanism;
    props['sasl.jaas.config'] = `${module} required username="${username}" password="${password}";`;
  }
  const caFile = testEnv.kafkaEnv.KAFKA_SSL_CA_FILE;
  if (security.tls && caFile) {
    props['ssl.truststore.type'] = 'PEM';
    props['ssl.truststore.location'] = caFile;
  }
  return props;
}
