import { InMemorySpanExporter } from '@opentelemetry/sdk-trace-node';
import { createMetricsRegistry, createTracing, Freshness } from '@sluice/observability';
import { PUBLISHED_AT_HEADER } from '@sluice/messaging';
import { AppliedTrace, originOf } from './applied-trace';
import type { BatchRecord } from './records';

const TRACE = '0af7651916cd43dd8448eb211c80319c';
const SAMPLED = `00-${TRACE}-b7ad6b7169203331-01`;
const UNSAMPLED = `00-${TRACE}-c7ad6b7169203332-00`;

function record(offset: number, committedAtMs: number, headers: Record<string, string> = {}): BatchRecord {
  return {
    raw: {
      offset: BigInt(offset),
      key: null,
      value: null,
      headers: Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, [Buffer.from(v)]])),
      timestamp: new Date(committedAtMs),
    },
    key: 'w',
    decoded: { ok: true, type: 'FundsDeposited', data: {} },
  };
}

describe('a committed batch (projector)', () => {
  it('observes commit → applied per record, and published → applied where the relay stamped it, with the trace as exemplar', async () => {
    const registry = createMetricsRegistry('projector', false);
    const trace = new AppliedTrace({ topic: 't', groupId: 'g', freshness: Freshness.for(registry) });
    trace.applied([record(1, 10_000, { traceparent: SAMPLED, [PUBLISHED_AT_HEADER]: '10020' }), record(2, 9_000)], 9_990, 10_030);
    const text = await registry.metrics();
    expect(text).toContain('sluice_freshness_seconds_count{service="projector",hop="commit_to_applied"} 2');
    expect(text).toContain('sluice_freshness_seconds_count{service="projector",hop="published_to_applied"} 1');
    expect(text).toContain(
      `sluice_freshness_seconds_bucket{le="0.01",service="projector",hop="published_to_applied"} 1 # {trace_id="${TRACE}"} 0.01 `,
    );
  });

  it('makes an apply span per record of a recorded trace, from the batch start to its commit', () => {
    const exporter = new InMemorySpanExporter();
    const tracing = createTracing('projector', { exporter: 'none', sampleRatio: 1 }, exporter);
    // Epoch milliseconds, as the engine's clock gives (smaller numbers would read as performance.now()).
    const started = 1_700_000_000_010;
    new AppliedTrace({ topic: 't', groupId: 'g', tracer: tracing.tracer }).applied(
      [
        record(1, started - 10, { traceparent: SAMPLED }),
        record(2, started - 10, { traceparent: UNSAMPLED }),
        record(3, started - 10),
      ],
      started,
      started + 20,
    );
    const spans = exporter.getFinishedSpans();
    expect(spans.map((s) => [s.name, s.parentSpanContext?.spanId, s.attributes['messaging.kafka.offset']])).toEqual([
      ['apply t', 'b7ad6b7169203331', '1'],
    ]);
    const ms = ([sec, nanos]: [number, number]) => sec * 1000 + nanos / 1e6;
    expect([ms(spans[0]!.startTime), ms(spans[0]!.endTime)]).toEqual([started, started + 20]);
  });

  it('tells readers where its changes came from: the oldest commit and the recorded traces', () => {
    const origin = originOf([record(1, 10_000, { traceparent: SAMPLED }), record(2, 9_000, { traceparent: UNSAMPLED })], 10_050);
    expect(origin).toEqual({ appliedAtMs: 10_050, committedAtMs: 9_000, traceparents: [SAMPLED] });
  });
});
