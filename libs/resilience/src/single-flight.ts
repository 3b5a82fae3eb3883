import { Counter, type Registry } from 'prom-client';

/**
 * Request coalescing: concurrent calls for the same key share one execution
 * and its result (or error). Only for reads whose answer is the same for
 * every caller at that moment; the entry is dropped as soon as it settles, so
 * nothing is cached beyond the call in flight.
 */
export class SingleFlight<V> {
  private readonly inFlight = new Map<string, Promise<V>>();
  private readonly coalesced?: Counter<'operation'>;

  constructor(
    private readonly operation: string,
    registry?: Registry,
  ) {
    if (registry) {
      const name = 'sluice_singleflight_coalesced_total';
      this.coalesced =
        (registry.getSingleMetric(name) as Counter<'operation'> | undefined) ??
        new Counter({
          name,
          help: 'Calls that joined an identical call already in flight instead of running their own',
          labelNames: ['operation'],
          registers: [registry],
        });
    }
  }

  do(key: string, fn: () => Promise<V>): Promise<V> {
    const pending = this.inFlight.get(key);
    if (pending) {
      this.coalesced?.inc({ operation: this.operation });
      return pending;
    }
    const p = fn().finally(() => this.inFlight.delete(key));
    this.inFlight.set(key, p);
    return p;
  }

  get size(): number {
    return this.inFlight.size;
  }
}
