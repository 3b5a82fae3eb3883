import { SluiceError } from '@sluice/core';
import { PUBLISHED_AT_HEADER } from '@sluice/messaging';
import { isSampled, parseTraceparent, ROOT_CONTEXT, SpanKind, trace, type Freshness, type Tracer } from '@sluice/observability';
import type { RelayMetrics } from '../metrics';
import type { KafkaSink } from './kafka-sink';
import type { OutboxRecord } from './outbox-record';
import type { TopicRouter } from './topic-router';

export interface PublishTracing {
  /** A publish span per record of a recorded trace (child of the row's traceparent); unset, none. */
  tracer?: Tracer;
  /** commit → published per record, the record's trace id as exemplar. */
  freshness?: Freshness;
  /** Stamp PUBLISHED_AT_HEADER on every record (off where only Debezium's headers may appear). */
  publishedAtHeader?: boolean;
}

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
    private readonly tracing: PublishTracing = {},
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
    const sentAtMs = Date.now();
    if (this.tracing.publishedAtHeader) {
      // Each record's headers are its own object (made when its row was read): stamped in place.
      const stamp = String(sentAtMs);
      for (const r of records) r.headers[PUBLISHED_AT_HEADER] = stamp;
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
    if (this.tracing.tracer || this.tracing.freshness) this.traced(records, topics, sentAtMs, now);
  }

  /**
   * Per record once Kafka acknowledged its batch: commit → published, and a publish span for a
   * record of a recorded trace from the send to the acknowledgement, made after the fact with the
   * batch's times. The record's traceparent header stays the writer's (as Debezium leaves it), so
   * the consumers' spans are siblings of this one in the trace.
   */
  private traced(records: readonly OutboxRecord[], topics: readonly string[], sentAtMs: number, ackedAtMs: number): void {
    const { tracer, freshness } = this.tracing;
    records.forEach((r, i) => {
      const parent = parseTraceparent(r.headers.traceparent);
      const sampled = isSampled(parent);
      freshness?.observe('commit_to_published', (ackedAtMs - r.committedAtMs) / 1000, sampled ? parent.traceId : undefined);
      if (!tracer || !sampled) return;
      tracer
        .startSpan(
          `publish ${topics[i]!}`,
          {
            kind: SpanKind.PRODUCER,
            startTime: sentAtMs,
            attributes: {
              'messaging.system': 'kafka',
              'messaging.destination.name': topics[i]!,
              'messaging.message.id': r.id,
              'sluice.event_type': r.type,
              'sluice.batch_size': records.length,
            },
          },
          trace.setSpanContext(ROOT_CONTEXT, parent),
        )
        .end(ackedAtMs);
    });
  }
}
