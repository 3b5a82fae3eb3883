import { Counter, Gauge, type Registry } from 'prom-client';
import { SluiceError } from '@sluice/core';

export type CircuitState = 'closed' | 'open' | 'half_open';

export interface CircuitBreakerOptions {
  /** Names the dependency in errors, logs and metrics: "psp-simulator". */
  dependency: string;
  /** Share of failed calls in the window (0..1) that opens the circuit. */
  failureRateThreshold: number;
  /** Calls the window must hold before its failure rate counts: a few early failures are no trend. */
  minimumCalls: number;
  /** How far back the failure rate looks. */
  windowMs: number;
  /** How long the circuit stays open before one trial call may test the dependency. */
  openMs: number;
  /** Trial calls let through at once while half-open (default 1). */
  halfOpenProbes?: number;
  /** Which errors count against the dependency; others (a refusal it answered on purpose) pass through as successes. */
  isFailure?: (err: unknown) => boolean;
  /** Told of every transition, with why it happened: log it there. */
  onStateChange?: (change: CircuitTransition) => void;
  clock?: () => number;
  registry?: Registry;
}

export interface CircuitTransition {
  dependency: string;
  from: CircuitState;
  to: CircuitState;
  reason: string;
}

/** The circuit refused the call without making it. Retriable: the same call later can succeed. */
export class CircuitOpenError extends SluiceError<'circuit_open'> {
  constructor(
    dependency: string,
    readonly retryAfterMs: number,
  ) {
    super('circuit_open', `the circuit of ${dependency} is open; not calling it for ${retryAfterMs} ms`, {
      retriable: true,
      details: { dependency },
    });
  }
}

const BUCKETS = 10;

/**
 * A circuit breaker per dependency, closed → open → half-open → closed:
 * - closed: calls go through; when at least `minimumCalls` calls ended in the
 *   last `windowMs` and the share of failures among them reaches the
 *   threshold, it opens;
 * - open: calls are refused at once with circuit_open (no timeout is spent on
 *   a dependency known to be down) until `openMs` has passed;
 * - half-open: `halfOpenProbes` trial calls go through, others are refused; a
 *   trial that succeeds closes the circuit (with a fresh window), one that
 *   fails opens it again for another `openMs`.
 * The open → half-open step happens when someone asks (`state`, `allows`,
 * `run`): callers that park work while the circuit is open poll `state` and
 * send one trial when it says half_open.
 */
export class CircuitBreaker {
  private current: CircuitState = 'closed';
  private openedAt = 0;
  private probes = 0;
  private readonly buckets = Array.from({ length: BUCKETS }, () => ({ start: 0, calls: 0, failures: 0 }));
  private readonly clock: () => number;
  private readonly isFailure: (err: unknown) => boolean;
  private readonly metrics?: {
    transitions: Counter<'dependency' | 'from' | 'to'>;
    rejects: Counter<'dependency'>;
  };

  constructor(private readonly options: CircuitBreakerOptions) {
    if (!(options.failureRateThreshold > 0 && options.failureRateThreshold <= 1)) {
      throw new RangeError('failureRateThreshold must be in (0, 1]');
    }
    if (!(options.minimumCalls >= 1 && options.windowMs > 0 && options.openMs > 0)) {
      throw new RangeError('a circuit breaker needs minimumCalls >= 1, windowMs > 0 and openMs > 0');
    }
    this.clock = options.clock ?? Date.now;
    this.isFailure = options.isFailure ?? (() => true);
    if (options.registry) this.metrics = this.createMetrics(options.registry);
  }

  get dependency(): string {
    return this.options.dependency;
  }

  /** The state now; an open circuit whose time is up turns half-open here. */
  get state(): CircuitState {
    if (this.current === 'open' && this.clock() - this.openedAt >= this.options.openMs) {
      this.transition('half_open', `open for ${this.options.openMs} ms; letting a trial call through`);
    }
    return this.current;
  }

  /** Milliseconds until an open circuit lets a trial through (0 when it would now). */
  retryAfterMs(): number {
    if (this.state !== 'open') return 0;
    return Math.max(0, this.openedAt + this.options.openMs - this.clock());
  }

  /** Whether a call made now would go through (without taking a half-open probe slot). */
  allows(): boolean {
    const state = this.state;
    return state === 'closed' || (state === 'half_open' && this.probes < (this.options.halfOpenProbes ?? 1));
  }

  /** Runs fn through the circuit; refuses with CircuitOpenError when it may not. */
  async run<T>(fn: () => Promise<T>): Promise<T> {
    const state = this.state;
    const probe = state === 'half_open';
    if (state === 'open' || (probe && this.probes >= (this.options.halfOpenProbes ?? 1))) {
      this.metrics?.rejects.inc({ dependency: this.options.dependency });
      throw new CircuitOpenError(this.options.dependency, Math.max(1, this.retryAfterMs()));
    }
    if (probe) this.probes++;
    try {
      const result = await fn();
      this.record(false, probe);
      return result;
    } catch (err) {
      this.record(this.isFailure(err), probe);
      throw err;
    } finally {
      if (probe) this.probes--;
    }
  }

  /** The failure rate and call count the window holds now. */
  window(): { calls: number; failures: number } {
    const now = this.clock();
    let calls = 0;
    let failures = 0;
    for (const b of this.buckets) {
      if (now - b.start < this.options.windowMs) {
        calls += b.calls;
        failures += b.failures;
      }
    }
    return { calls, failures };
  }

  private record(failed: boolean, probe: boolean): void {
    if (probe || this.current === 'half_open') {
      // A trial's outcome decides alone; a call that started while closed and ends now counts for nothing.
      if (!probe) return;
      if (failed) this.open('the trial call failed');
      else this.close('the trial call succeeded');
      return;
    }
    if (this.current !== 'closed') return;
    const bucket = this.bucketAt(this.clock());
    bucket.calls++;
    if (failed) bucket.failures++;
    if (!failed) return;
    const { calls, failures } = this.window();
    if (calls >= this.options.minimumCalls && failures / calls >= this.options.failureRateThreshold) {
      this.open(`${failures} of ${calls} calls failed within ${this.options.windowMs} ms`);
    }
  }

  private bucketAt(now: number) {
    const width = this.options.windowMs / BUCKETS;
    const start = Math.floor(now / width) * width;
    const bucket = this.buckets[Math.floor(now / width) % BUCKETS]!;
    if (bucket.start !== start) Object.assign(bucket, { start, calls: 0, failures: 0 });
    return bucket;
  }

  private open(reason: string): void {
    this.openedAt = this.clock();
    this.transition('open', reason);
  }

  private close(reason: string): void {
    for (const b of this.buckets) Object.assign(b, { start: 0, calls: 0, failures: 0 });
    this.transition('closed', reason);
  }

  private transition(to: CircuitState, reason: string): void {
    const from = this.current;
    if (from === to) return;
    this.current = to;
    this.metrics?.transitions.inc({ dependency: this.options.dependency, from, to });
    this.options.onStateChange?.({ dependency: this.options.dependency, from, to, reason });
  }

  private createMetrics(registry: Registry) {
    const dependency = this.options.dependency;
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const self = this;
    new Gauge({
      name: 'sluice_circuit_state',
      help: 'The circuit of each dependency: 1 for the state it is in (closed, open, half_open), 0 for the others',
      labelNames: ['dependency', 'state'],
      registers: [registry],
      collect() {
        const state = self.state;
        for (const s of ['closed', 'open', 'half_open'] as const) this.set({ dependency, state: s }, s === state ? 1 : 0);
      },
    });
    return {
      transitions: new Counter({
        name: 'sluice_circuit_transitions_total',
        help: 'Circuit state changes by dependency, from and to',
        labelNames: ['dependency', 'from', 'to'],
        registers: [registry],
      }),
      rejects: new Counter({
        name: 'sluice_circuit_rejects_total',
        help: 'Calls the circuit refused without making them',
        labelNames: ['dependency'],
        registers: [registry],
      }),
    };
  }
}
