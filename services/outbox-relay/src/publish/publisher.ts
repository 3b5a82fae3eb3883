import { SluiceError } from '@sluice/core';
import type { RelayMetrics } from '../metrics';
import type { KafkaSink } from './kafka-sink';
import type { OutboxRecord } from './outbox-record';
import type { TopicRouter } from './topic-router';

/**
 * Sends a batch of outbox records to Kafka as Debezium's Outbox Event Router
 * would: topic from the aggregate type, key from the aggregate id, the Java
 * client's partition for that key, the payload bytes untouched, the event id
 * and type as headers. Resolves once Kafka acknowledged every record (acks=all).
 * Refuses (`leadership_lost`) once `leading()` is false: a relay that lost the
 * leader lock sends nothing more, whatever its session was about to do.
 */
export class RecordPublisher {
  constructor(
    private readonly sink: KafkaSink,
    private readonly router: TopicRouter,
    private readonly metrics: RelayMetrics,
    private readonly leading: () => boolean,
  ) {}

  async publish(records: readonly OutboxRecord[]): Promise<void> {
    if (records.length === 0) return;
    const router = this.router;
    const topics = records.map((r) => router.topicOf(r.aggregateType));
    await router.prepare(new Set(topics));
    const partitions = records.map((r, i) => router.partitionOf(topics[i]!, r.aggregateId));
    if (!this.leading()) {
      throw new SluiceError('leadership_lost', 'this relay no longer holds the leader lock', { retriable: true });
    }
    const started = process.hrtime.bigint();
    await this.sink.send(records, topics, partitions);
    const now = Date.now();
    this.metrics.batchSeconds.observe(Number(process.hrtime.bigint() - started) / 1e9);
    this.metrics.batchSize.observe(records.length);
    const perTopic = new Map<string, number>();
    for (const topic of topics) perTopic.set(topic, (perTopic.get(topic) ?? 0) + 1);
    for (const [topic, n] of perTopic) this.metrics.events.inc({ topic }, n);
    for (const r of records) this.metrics.commitToAck.observe(Math.max(0, now - r.committedAtMs) / 1000);
  }
}
