import { SingleFlight } from '@sluice/resilience';
import type { Resource } from './metrics';
import type { ReadModel } from './read-model';
import type { TtlCache } from './ttl-cache';
import { readOrUnavailable } from './unavailable';

export interface VersionedRead<V> {
  readonly value: V | undefined;
  /** A minimum version was asked for and not reached within the wait: this is the older answer. */
  readonly stale: boolean;
}

/**
 * Cache-aside reads of one projection's rows by key, and read-your-writes on
 * top: a cached row is served while the change feed is heard and its TTL
 * lasts; a miss reads the live version through its public view (concurrent
 * misses for a key share one query); a read asking for a minimum version
 * waits, bounded, for the projector to get there.
 */
export class CachedReader<V> {
  private readonly cache: TtlCache<V>;
  private readonly flights: SingleFlight<V | undefined>;

  constructor(
    private readonly rm: ReadModel,
    private readonly projection: string,
    private readonly resource: Resource,
    private readonly load: (key: string) => Promise<V | undefined>,
    private readonly versionOf: (value: V) => number,
  ) {
    this.cache = rm.cacheFor<V>(projection);
    this.flights = new SingleFlight<V | undefined>(`${resource}-read`, rm.options.registry);
  }

  async find(key: string, options: { fresh?: boolean } = {}): Promise<V | undefined> {
    if (!options.fresh && this.rm.caching) {
      const hit = this.cache.get(key);
      this.rm.metrics.cache.inc({ resource: this.resource, result: hit === undefined ? 'miss' : 'hit' });
      if (hit !== undefined) return hit;
    }
    const token = this.cache.begin(key);
    // Coalesce only reads that began in the same generation: one begun before an invalidation must not feed a later one.
    const value = await this.flights.do(`${key}|${token}`, () => readOrUnavailable(() => this.load(key)));
    if (value !== undefined && this.rm.caching) this.cache.set(key, value, token);
    return value;
  }

  /** With minVersion, waits up to waitMs for the row to reach it; the answer is stale if it did not. */
  async read(key: string, minVersion: number | undefined, waitMs: number): Promise<VersionedRead<V>> {
    const first = await this.find(key);
    if (minVersion === undefined) return { value: first, stale: false };
    if (first !== undefined && this.versionOf(first) >= minVersion) {
      this.rm.observeWait(this.resource, 'immediate', 0);
      return { value: first, stale: false };
    }
    let latest = first;
    const result = await this.rm.waits.until(this.projection, key, minVersion, waitMs, async () => {
      latest = await this.find(key, { fresh: true });
      return latest === undefined ? undefined : this.versionOf(latest);
    });
    this.rm.observeWait(this.resource, result.reached ? 'waited' : 'stale', result.waitedMs);
    return { value: latest, stale: !result.reached };
  }
}
