import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export type Resource = 'wallet' | 'transactions' | 'withdrawal';

/** The query API's read-model instruments, on the injected registry. */
export class ReadMetrics {
  readonly cache: Counter<'resource' | 'result'>;
  readonly readYourWrites: Counter<'resource' | 'outcome'>;
  readonly waitSeconds: Histogram<'resource'>;
  readonly notModified: Counter<'resource'>;
  readonly notifications: Counter<'kind'>;

  constructor(registry: Registry, feedConnected: () => boolean, pendingWaits: () => number) {
    const registers = [registry];
    this.cache = new Counter({
      name: 'sluice_query_cache_requests_total',
      help: 'Reads served from the cache (hit) or the read model (miss)',
      labelNames: ['resource', 'result'],
      registers,
    });
    this.readYourWrites = new Counter({
      name: 'sluice_query_min_version_requests_total',
      help: 'Reads asking for a minimum version: there at once (immediate), after a wait (waited), or answered stale on timeout',
      labelNames: ['resource', 'outcome'],
      registers,
    });
    this.waitSeconds = new Histogram({
      name: 'sluice_query_min_version_wait_seconds',
      help: 'How long reads waited for the version they asked for',
      labelNames: ['resource'],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5],
      registers,
    });
    this.notModified = new Counter({
      name: 'sluice_query_not_modified_total',
      help: 'Conditional reads answered 304 Not Modified',
      labelNames: ['resource'],
      registers,
    });
    this.notifications = new Counter({
      name: 'sluice_query_change_notifications_total',
      help: 'Change notifications heard from the projector, by kind (changed, switched, reset)',
      labelNames: ['kind'],
      registers,
    });
    new Gauge({
      name: 'sluice_query_change_feed_connected',
      help: '1 while the query API hears the projector’s change notifications (else no caching, and waits poll)',
      registers,
      collect() {
        this.set(feedConnected() ? 1 : 0);
      },
    });
    new Gauge({
      name: 'sluice_query_min_version_waiting',
      help: 'Reads waiting for a version right now',
      registers,
      collect() {
        this.set(pendingWaits());
      },
    });
  }
}
