import { InMemorySpanExporter } from '@opentelemetry/sdk-trace-node';
import { PUBLISHED_AT_HEADER } from '@sluice/messaging';
import { createMetricsRegistry, createTracing, Freshness } from '@sluice/observability';
import { createRelayMetrics } from '../metrics';
import type { KafkaSink } from './kafka-sink';
import type { OutboxRecord } from './outbox-record';
import { RecordPublisher, type PublishTracing } from './publisher';
import type { TopicRouter } from './topic-router';

const TRACE = '0af7651916cd43dd8448eb211c80319c';
const SAMPLED = `00-${TRACE}-b7ad6b7169203331-01`;

function outboxRecord(id: string, headers: Record<string, string> = {}): OutboxRecord {
  return {
    id,
    aggregateType: 'wallet',
    aggregateId: 'w1',
    type: 'FundsDeposited',
    payload: Buffer.from('x'),
    timestampMs: undefined,
    headers,
    committedAtMs: Date.now() - 20,
  };
}

function publisherWith(tracing: PublishTracing) {
  const registry = createMetricsRegistry('outbox-relay', false);
  const sent: Record<string, string>[] = [];
  const sink = {
    client: 'kafkajs',
    send: async (records: readonly OutboxRecord[]) => void sent.push(...records.map((r) => ({ ...r.headers }))),
    close: async () => undefined,
  } as KafkaSink;
  const router = {
    topicOf: () => 'outbox.event.wallet',
    prepare: async () => undefined,
    partitionOf: () => 0,
  } as unknown as TopicRouter;
  const resolved = { ...tracing, ...(tracing.freshness === undefined && { freshness: Freshness.for(registry) }) };
  return { publisher: new RecordPublisher(sink, router, createRelayMetrics(registry), () => true, resolved), registry, sent };
}

describe('publishing (relay)', () => {
  it('observes commit → published per record once Kafka acknowledged it, the traced one with its trace id as exemplar', async () => {
    const { publisher, registry } = publisherWith({});
    await publisher.publish([outboxRecord('a', { traceparent: SAMPLED }), outboxRecord('b')]);
    const text = await registry.metrics();
    expect(text).toContain('sluice_freshness_seconds_count{service="outbox-relay",hop="commit_to_published"} 2');
    expect(text).toContain(`# {trace_id="${TRACE}"}`);
  });

  it('makes a publish span per record of a recorded trace, child of the row traceparent, and leaves the header as written', async () => {
    const exporter = new InMemorySpanExporter();
    const tracing = createTracing('outbox-relay', { exporter: 'none', sampleRatio: 1 }, exporter);
    const { publisher, sent } = publisherWith({ tracer: tracing.tracer });
    await publisher.publish([outboxRecord('a', { traceparent: SAMPLED }), outboxRecord('b')]);
    const spans = exporter.getFinishedSpans();
    expect(spans.map((s) => [s.name, s.parentSpanContext?.spanId, s.attributes['messaging.message.id']])).toEqual([
      ['publish outbox.event.wallet', 'b7ad6b7169203331', 'a'],
    ]);
    expect(sent[0]!.traceparent).toBe(SAMPLED);
  });

  it('stamps the send time on every record only when asked to', async () => {
    const before = Date.now();
    const stamped = publisherWith({ publishedAtHeader: true });
    await stamped.publisher.publish([outboxRecord('a')]);
    expect(Number(stamped.sent[0]![PUBLISHED_AT_HEADER])).toBeGreaterThanOrEqual(before);
    const plain = publisherWith({ publishedAtHeader: false });
    await plain.publisher.publish([outboxRecord('a')]);
    expect(Object.keys(plain.sent[0]!)).toEqual([]);
  });
});
