import { InMemorySpanExporter } from '@opentelemetry/sdk-trace-node';
import { createMetricsRegistry, createTracing, Freshness } from '@sluice/observability';
import { visibilityObserver } from './visibility';

const TRACE = '0af7651916cd43dd8448eb211c80319c';
const SAMPLED = `00-${TRACE}-b7ad6b7169203331-01`;
const keys = [{ key: 'w1', version: 2 }];

describe('a change becoming visible (query API)', () => {
  it('observes applied → visible and commit → visible from the notification, with its trace as exemplar', async () => {
    const registry = createMetricsRegistry('query-api', false);
    const observe = visibilityObserver({ freshness: Freshness.for(registry), clock: () => 10_040 });
    observe({
      kind: 'changed',
      projection: 'wallet',
      version: 1,
      keys,
      origin: { appliedAtMs: 10_030, committedAtMs: 10_000, traceparents: [SAMPLED] },
    });
    const text = await registry.metrics();
    expect(text).toContain(
      `sluice_freshness_seconds_bucket{le="0.01",service="query-api",hop="applied_to_visible"} 1 # {trace_id="${TRACE}"} 0.01 `,
    );
    expect(text).toContain(
      `sluice_freshness_seconds_bucket{le="0.05",service="query-api",hop="commit_to_visible"} 1 # {trace_id="${TRACE}"} 0.04 `,
    );
  });

  it('makes a visible span per recorded trace, from the apply to now', () => {
    const exporter = new InMemorySpanExporter();
    const tracing = createTracing('query-api', { exporter: 'none', sampleRatio: 1 }, exporter);
    const observe = visibilityObserver({
      freshness: Freshness.for(createMetricsRegistry('q', false)),
      tracer: tracing.tracer,
      clock: () => 10_040,
    });
    observe({
      kind: 'changed',
      projection: 'wallet',
      version: 1,
      keys,
      origin: { appliedAtMs: 10_030, traceparents: [SAMPLED] },
    });
    const spans = exporter.getFinishedSpans();
    expect(spans.map((s) => [s.name, s.spanContext().traceId, s.parentSpanContext?.spanId])).toEqual([
      ['visible wallet', TRACE, 'b7ad6b7169203331'],
    ]);
  });

  it('observes nothing for a notification without an origin (an older projector)', async () => {
    const registry = createMetricsRegistry('query-api', false);
    visibilityObserver({ freshness: Freshness.for(registry) })({ kind: 'changed', projection: 'wallet', version: 1, keys });
    expect(await registry.metrics()).not.toContain('sluice_freshness_seconds_count');
  });
});
