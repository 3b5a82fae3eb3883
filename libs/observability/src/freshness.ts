import { Histogram, type Registry } from 'prom-client';

/**
 * The hops of an event from its PostgreSQL commit to a reader, each measured where it ends:
 * - commit_to_published: the relay, when Kafka acknowledged the record;
 * - published_to_applied and commit_to_applied: the projector, when its transaction committed
 *   (published_to_applied only for records whose relay stamped the publish time);
 * - applied_to_visible and commit_to_visible (end to end): the query API, when it heard of the
 *   change (its cache is invalidated, waiting reads and status streams are woken).
 */
export const FRESHNESS_HOPS = [
  'commit_to_published',
  'published_to_applied',
  'commit_to_applied',
  'applied_to_visible',
  'commit_to_visible',
] as const;
export type FreshnessHop = (typeof FRESHNESS_HOPS)[number];

export const FRESHNESS_METRIC = 'sluice_freshness_seconds';

/**
 * One histogram per process, `hop` telling the stages apart, so one query compares them. An
 * observation made for a traced event carries its trace id as an exemplar: a slow bucket in
 * Prometheus leads to the trace of an event that landed in it. Exemplars are exposed only in the
 * OpenMetrics format, which createMetricsRegistry's registries serve.
 */
export class Freshness {
  private static readonly byRegistry = new WeakMap<Registry, Freshness>();
  /** trace_id is an exemplar label only (prom-client types exemplar labels with the series' own). */
  private readonly histogram: Histogram<'hop' | 'trace_id'>;

  static for(registry: Registry): Freshness {
    let f = Freshness.byRegistry.get(registry);
    if (!f) {
      f = new Freshness(registry);
      Freshness.byRegistry.set(registry, f);
    }
    return f;
  }

  private constructor(registry: Registry) {
    this.histogram = new Histogram({
      name: FRESHNESS_METRIC,
      help: 'Age of an event at each hop from its PostgreSQL commit, by hop (commit_to_published, published_to_applied, commit_to_applied, applied_to_visible, commit_to_visible)',
      labelNames: ['hop'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
      enableExemplars: true,
      registers: [registry],
    });
  }

  /** Clock skew between hosts can make a hop negative: it counts as 0, not as a lost observation. */
  observe(hop: FreshnessHop, seconds: number, traceId?: string): void {
    const value = seconds > 0 ? seconds : 0;
    // With exemplars enabled prom-client takes only the object form of observe.
    if (traceId === undefined) this.histogram.observe({ labels: { hop }, value });
    else this.histogram.observe({ labels: { hop }, value, exemplarLabels: { trace_id: traceId } });
  }
}
