import type { Producer, TopicMessages } from 'kafkajs';
import type { RelayMetrics } from '../metrics';
import type { OutboxRecord } from './outbox-record';
import type { TopicRouter } from './topic-router';

/**
 * Sends a batch of outbox records to Kafka as Debezium's Outbox Event Router
 * would: topic from the aggregate type, key from the aggregate id, the Java
 * client's partition for that key, the payload bytes untouched, the event id
 * and type as headers. Resolves once Kafka acknowledged every record (acks=all).
 */
export class RecordPublisher {
  constructor(
    private readonly producer: Producer,
    private readonly router: TopicRouter,
    private readonly metrics: RelayMetrics,
  ) {}

  async publish(records: readonly OutboxRecord[]): Promise<void> {
    if (records.length === 0) return;
    const router = this.router;
    await router.prepare(new Set(records.map((r) => router.topicOf(r.aggregateType))));
    const byTopic = new Map<string, TopicMessages>();
    for (const record of records) {
      const topic = router.topicOf(record.aggregateType);
      let entry = byTopic.get(topic);
      if (!entry) byTopic.set(topic, (entry = { topic, messages: [] }));
      entry.messages.push({
        key: record.aggregateId,
        value: record.payload,
        partition: router.partitionOf(topic, record.aggregateId),
        headers: { id: record.id, type: record.type, ...record.headers },
        ...(record.timestampMs !== undefined && { timestamp: String(record.timestampMs) }),
      });
    }
    const started = process.hrtime.bigint();
    await this.producer.sendBatch({ topicMessages: [...byTopic.values()], acks: -1 });
    const now = Date.now();
    this.metrics.batchSeconds.observe(Number(process.hrtime.bigint() - started) / 1e9);
    this.metrics.batchSize.observe(records.length);
    for (const [topic, entry] of byTopic) this.metrics.events.inc({ topic }, entry.messages.length);
    for (const r of records) this.metrics.commitToAck.observe(Math.max(0, now - r.committedAtMs) / 1000);
  }
}
