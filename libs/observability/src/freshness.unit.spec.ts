import { Freshness } from './freshness';
import { createMetricsRegistry } from './metrics';

const TRACE = '0af7651916cd43dd8448eb211c80319c';

describe('freshness histograms', () => {
  it('carry the trace id of a traced observation as an exemplar of its bucket', async () => {
    const registry = createMetricsRegistry('test', false);
    Freshness.for(registry).observe('commit_to_visible', 0.03, TRACE);
    const text = await registry.metrics();
    expect(text).toContain(
      `sluice_freshness_seconds_bucket{le="0.05",service="test",hop="commit_to_visible"} 1 # {trace_id="${TRACE}"} 0.03 `,
    );
    expect(text).toContain('sluice_freshness_seconds_count{service="test",hop="commit_to_visible"} 1');
  });

  it('observe an untraced event without an exemplar', async () => {
    const registry = createMetricsRegistry('test', false);
    Freshness.for(registry).observe('commit_to_published', 0.2);
    const text = await registry.metrics();
    expect(text).toContain('sluice_freshness_seconds_bucket{le="0.25",service="test",hop="commit_to_published"} 1\n');
    expect(text).not.toContain('trace_id');
  });

  it('count a negative hop (clock skew) as zero', async () => {
    const registry = createMetricsRegistry('test', false);
    Freshness.for(registry).observe('published_to_applied', -0.5);
    const metric = (await registry.getMetricsAsJSON()).find((m) => m.name === 'sluice_freshness_seconds');
    const sum = metric?.values.find((v) => (v as { metricName?: string }).metricName === 'sluice_freshness_seconds_sum');
    const first = metric?.values.find((v) => v.labels.le === 0.005);
    expect([sum?.value, first?.value]).toEqual([0, 1]);
  });

  it('are one histogram per registry, shared by every hop of the process', () => {
    const registry = createMetricsRegistry('test', false);
    expect(Freshness.for(registry)).toBe(Freshness.for(registry));
  });

  it('are served in the OpenMetrics format Prometheus reads exemplars from', async () => {
    const registry = createMetricsRegistry('test', false);
    expect(registry.contentType).toContain('application/openmetrics-text');
    expect(await registry.metrics()).toMatch(/# EOF\n$/);
  });
});
