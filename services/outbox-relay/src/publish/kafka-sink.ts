import { setTimeout as sleep } from 'node:timers/promises';
import type { Producer as PlatformaticProducer, MessageToProduce } from '@platformatic/kafka';
import type { Producer, TopicMessages } from 'kafkajs';
import { platformaticSecurity, PLAINTEXT, PRODUCER_RETRY, type KafkaSecurity } from '@sluice/messaging';
import { exponentialDelay } from '@sluice/resilience';
import type { OutboxRecord } from './outbox-record';

/** Which Kafka client sends the relay's records (RELAY_KAFKA_CLIENT). */
export type KafkaClientName = 'kafkajs' | 'platformatic';

/**
 * Where the publisher hands routed records: one Kafka client's producer,
 * idempotent with acks=all. send() resolves once the broker acknowledged every
 * record. Records arrive with their topic and partition chosen (murmur2 as the
 * Java client), so neither client's partitioner is involved.
 */
export interface KafkaSink {
  readonly client: KafkaClientName;
  /** records[i] goes to topics[i], partition partitions[i]; the event id and type become headers `id` and `type`. */
  send(records: readonly OutboxRecord[], topics: readonly string[], partitions: readonly number[]): Promise<void>;
  close(): Promise<void>;
}

/**
 * kafkajs's producer (RELAY_KAFKA_CLIENT=kafkajs): one sendBatch per relay batch, grouped by topic.
 *
 * After a failed send the producer is replaced by a new one (a new producer id). kafkajs moves
 * an idempotent producer's sequence numbers on for batches whose outcome it never learned (the
 * broker stopped mid-request), so once the broker is back every send of the old producer is
 * refused with OUT_OF_ORDER_SEQUENCE_NUMBER, for ever. The relay resends from its checkpoint
 * anyway after a failure; with a fresh producer id those resends are accepted, and what the
 * broker had already written appears twice (at least once, as after a crash).
 */
export class KafkajsSink implements KafkaSink {
  readonly client = 'kafkajs';
  private producer: Promise<Producer>;

  constructor(
    private readonly createProducer: () => Producer,
    private readonly onReplaced: () => void = () => undefined,
  ) {
    this.producer = this.connect();
  }

  async send(records: readonly OutboxRecord[], topics: readonly string[], partitions: readonly number[]): Promise<void> {
    const byTopic = new Map<string, TopicMessages>();
    for (let i = 0; i < records.length; i++) {
      const record = records[i]!;
      const topic = topics[i]!;
      let entry = byTopic.get(topic);
      if (!entry) byTopic.set(topic, (entry = { topic, messages: [] }));
      entry.messages.push({
        key: record.aggregateId,
        value: record.payload,
        partition: partitions[i]!,
        headers: { id: record.id, type: record.type, ...record.headers },
        ...(record.timestampMs !== undefined && { timestamp: String(record.timestampMs) }),
      });
    }
    const producer = this.producer;
    try {
      await (await producer).sendBatch({ topicMessages: [...byTopic.values()], acks: -1 });
    } catch (err) {
      this.replace(producer);
      throw err;
    }
  }

  async close(): Promise<void> {
    await (await this.producer.catch(() => undefined))?.disconnect();
  }

  /** Connects a new producer; after a failed connect the next send fails and replaces it. */
  private connect(): Promise<Producer> {
    const producer = this.createProducer();
    const connected = producer.connect().then(() => producer);
    connected.catch(() => undefined); // seen by the next send
    return connected;
  }

  private replace(failed: Promise<Producer>): void {
    if (this.producer !== failed) return; // a concurrent send replaced it already
    this.onReplaced();
    this.producer = this.connect();
    void failed.then((p) => p.disconnect()).catch(() => undefined);
  }
}

const ID = Buffer.from('id');
const TYPE = Buffer.from('type');

/** What the sink uses of @platformatic/kafka's Producer. */
export type PlatformaticProducerPort = Pick<PlatformaticProducer, 'send' | 'close' | 'clearMetadata'>;

/** Attempts of one produce request inside the client before the sink looks the leaders up again. */
export const PLATFORMATIC_SEND_ATTEMPTS = 3;

/**
 * The partitions a failed send did write (the client reports their offsets on the error), as
 * topic:partition: their records are not sent again, so a retry repeats none of them.
 */
function writtenPartitions(err: unknown): Set<string> {
  const offsets = (err as { produced?: { offsets?: { topic: string; partition: number }[] } }).produced?.offsets ?? [];
  return new Set(offsets.map((o) => `${o.topic}:${o.partition}`));
}

/** Whether every error in the client's chain may be retried (its own rule: none says canRetry=false). */
function retriable(err: unknown): boolean {
  const found = (err as { findBy?: (key: string, value: unknown) => unknown }).findBy?.('canRetry', false);
  return !found;
}

/**
 * @platformatic/kafka's producer (RELAY_KAFKA_CLIENT=platformatic, the default): the same
 * records, headers and partitions, encoded with far fewer allocations than
 * kafkajs (bench/relay measures both). Headers go as a Map of Buffers: with
 * a plain object of Buffers, send() of 1.35.0 never settles.
 *
 * A send is retried without end, so a broker outage stalls the relay instead of failing
 * records; but not inside the client alone. The client resolves a partition's leader once per
 * send and retries that broker only, so a send to a leader that died (kill -9 of one broker of
 * a cluster) would wait for that broker to come back, however soon another replica took over.
 * The client tries a few times (PLATFORMATIC_SEND_ATTEMPTS); then the sink forgets the
 * metadata, so the next attempt asks the cluster for the current leaders, and sends again the
 * records of the partitions not yet written. The idempotent producer's sequence numbers move
 * on only for partitions that were written, so a record the dead leader had written and
 * replicated before it died is recognised by the new leader and not appended twice.
 */
export class PlatformaticSink implements KafkaSink {
  readonly client = 'platformatic';
  private readonly headerKeys = new Map<string, Buffer>();

  constructor(
    private readonly producer: PlatformaticProducerPort,
    private readonly retryDelayMs: (attempt: number) => number = (attempt) =>
      exponentialDelay(Math.min(attempt, 5), PRODUCER_RETRY.initialMs, PRODUCER_RETRY.maxMs),
    private readonly onRetry: (err: unknown, attempt: number) => void = () => undefined,
  ) {}

  async send(records: readonly OutboxRecord[], topics: readonly string[], partitions: readonly number[]): Promise<void> {
    let messages = new Array<MessageToProduce>(records.length);
    for (let i = 0; i < records.length; i++) {
      const record = records[i]!;
      const headers = new Map<Buffer, Buffer>([
        [ID, Buffer.from(record.id)],
        [TYPE, Buffer.from(record.type)],
      ]);
      for (const name in record.headers) headers.set(this.headerKey(name), Buffer.from(record.headers[name]!));
      messages[i] = {
        topic: topics[i]!,
        partition: partitions[i]!,
        key: Buffer.from(record.aggregateId),
        value: record.payload,
        headers,
        ...(record.timestampMs !== undefined && { timestamp: BigInt(record.timestampMs) }),
      };
    }
    for (let attempt = 1; ; attempt++) {
      try {
        await this.producer.send({ messages });
        return;
      } catch (err) {
        if (!retriable(err)) throw err;
        const written = writtenPartitions(err);
        if (written.size > 0) messages = messages.filter((m) => !written.has(`${m.topic}:${m.partition}`));
        this.onRetry(err, attempt);
        this.producer.clearMetadata();
        await sleep(this.retryDelayMs(attempt));
      }
    }
  }

  close(): Promise<void> {
    return this.producer.close();
  }

  private headerKey(name: string): Buffer {
    let key = this.headerKeys.get(name);
    if (!key) this.headerKeys.set(name, (key = Buffer.from(name)));
    return key;
  }
}

/**
 * The platformatic producer, loaded on demand (the package is an ES module,
 * which Node 20.19+ loads through require): idempotent, acks=all, each request
 * tried PLATFORMATIC_SEND_ATTEMPTS times by the client with the same capped backoff as
 * kafkajs's (PRODUCER_RETRY), then by the sink without end (PlatformaticSink).
 */
export function createPlatformaticSink(
  brokers: readonly string[],
  clientId: string,
  security: KafkaSecurity = PLAINTEXT,
  onRetry?: (err: unknown, attempt: number) => void,
): PlatformaticSink {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { Producer } = require('@platformatic/kafka') as typeof import('@platformatic/kafka');
  const producer = new Producer({
    clientId,
    bootstrapBrokers: [...brokers],
    ...platformaticSecurity(security),
    idempotent: true,
    acks: -1,
    autocreateTopics: false,
    retries: PLATFORMATIC_SEND_ATTEMPTS - 1,
    retryDelay: (_client, _operation, attempt) =>
      exponentialDelay(Math.min(attempt, 5) + 1, PRODUCER_RETRY.initialMs, PRODUCER_RETRY.maxMs),
  });
  return new PlatformaticSink(producer, undefined, onRetry);
}
