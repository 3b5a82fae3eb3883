import type { Pool } from 'pg';
import { Freshness as FreshnessHistogram, type Logger, type Registry, type Tracer } from '@sluice/observability';
import { ChangeFeed } from './change-feed';
import { Freshness } from './freshness';
import { ReadMetrics, type Resource } from './metrics';
import { TtlCache } from './ttl-cache';
import { VersionWaits } from './version-waits';
import { visibilityObserver } from './visibility';

export interface ReadModelOptions {
  pool: Pool;
  databaseUrl: string;
  topic: string;
  logger: Logger;
  registry: Registry;
  cacheTtlMs: number;
  cacheMaxEntries: number;
  /** The longest a read-your-writes request waits (clients may ask for less with Prefer: wait). */
  maxWaitMs: number;
  maxWaiters: number;
  freshnessRefreshMs: number;
  /** A `visible` span per change of a recorded trace; unset, none. */
  tracer?: Tracer;
}

/**
 * What every reader shares: the change feed (LISTEN), read-your-writes waits,
 * freshness, metrics, and a cache per resource that the feed invalidates.
 */
export class ReadModel {
  readonly feed: ChangeFeed;
  readonly waits: VersionWaits;
  readonly freshness: Freshness;
  readonly metrics: ReadMetrics;

  constructor(readonly options: ReadModelOptions) {
    this.feed = new ChangeFeed(options.databaseUrl, options.logger.child({ component: 'change-feed' }));
    this.waits = new VersionWaits(this.feed, { maxWaiters: options.maxWaiters, pollMs: 1_000, disconnectedPollMs: 100 });
    this.freshness = new Freshness(options.pool, options.topic, options.freshnessRefreshMs, options.registry);
    this.metrics = new ReadMetrics(
      options.registry,
      () => this.feed.connected,
      () => this.waits.pending,
    );
    this.feed.subscribe((m) => {
      this.metrics.notifications.inc({ kind: m.kind });
      if (m.kind === 'switched') this.freshness.invalidate();
    });
    this.feed.onReset(() => this.metrics.notifications.inc({ kind: 'reset' }));
    this.feed.subscribe(
      visibilityObserver({
        freshness: FreshnessHistogram.for(options.registry),
        ...(options.tracer && { tracer: options.tracer }),
      }),
    );
  }

  get pool(): Pool {
    return this.options.pool;
  }

  /**
   * A cache for one projection's rows, keyed as the projection's change
   * notifications name them: a change drops the key, a switch or a reset
   * drops everything.
   */
  cacheFor<V>(projection: string): TtlCache<V> {
    const cache = new TtlCache<V>(this.options.cacheTtlMs, this.options.cacheMaxEntries);
    this.feed.subscribe((m) => {
      if (m.projection !== projection) return;
      if (m.kind === 'switched') cache.clear();
      else for (const { key } of m.keys) cache.invalidate(key);
    });
    this.feed.onReset(() => cache.clear());
    return cache;
  }

  /** Whether cached answers may be served: only while notifications are heard. */
  get caching(): boolean {
    return this.feed.connected && this.options.cacheTtlMs > 0;
  }

  /** The bound of a read-your-writes wait for this request. */
  waitMs(preferred: number | undefined): number {
    return Math.min(this.options.maxWaitMs, preferred ?? this.options.maxWaitMs);
  }

  observeWait(resource: Resource, outcome: 'immediate' | 'waited' | 'stale', waitedMs: number): void {
    this.metrics.readYourWrites.inc({ resource, outcome });
    this.metrics.waitSeconds.observe({ resource }, waitedMs / 1000);
  }

  start(): Promise<void> {
    return this.feed.start();
  }

  stop(): Promise<void> {
    return this.feed.stop();
  }
}
