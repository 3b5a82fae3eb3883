/**
 * An adaptive concurrency limit, additive increase / multiplicative decrease
 * (TCP's congestion control, as Netflix's concurrency-limits applies it to
 * services). Each completed call is a sample:
 * - dropped (timed out, or refused by the dependency as overloaded), or slower
 *   than `latencyThresholdMs`: the limit shrinks to limit × backoff, once per
 *   window (a limit's worth of calls completing), as TCP halves once per
 *   round trip: the calls already in flight when congestion began report it
 *   too, and counting each of them would collapse the limit to its minimum;
 * - otherwise, when the limit was actually in use (in-flight at least half of
 *   it), it grows by 1/limit, so about one step per limit's worth of calls.
 * The limit stays within [min, max]; max is the dependency's hard capacity
 * (the pool size for PostgreSQL).
 */
export interface AimdOptions {
  initial: number;
  min: number;
  max: number;
  /** A call slower than this counts as a sign of congestion. */
  latencyThresholdMs: number;
  /** Multiplier applied on congestion, in (0, 1). */
  backoff?: number;
}

export class AimdLimit {
  private value: number;
  private readonly backoff: number;
  /** Calls still to complete before the next decrease may happen. */
  private holdOff = 0;

  constructor(private readonly options: AimdOptions) {
    if (!(options.min >= 1 && options.min <= options.initial && options.initial <= options.max)) {
      throw new RangeError('AIMD limit needs 1 <= min <= initial <= max');
    }
    this.backoff = options.backoff ?? 0.9;
    if (!(this.backoff > 0 && this.backoff < 1)) throw new RangeError('AIMD backoff must be in (0, 1)');
    this.value = options.initial;
  }

  /** The current limit, a whole number of concurrent calls. */
  get limit(): number {
    return Math.floor(this.value);
  }

  sample(latencyMs: number, inFlight: number, dropped: boolean): void {
    if (this.holdOff > 0) this.holdOff--;
    if (dropped || latencyMs > this.options.latencyThresholdMs) {
      if (this.holdOff > 0) return;
      this.value = Math.max(this.options.min, this.value * this.backoff);
      this.holdOff = this.limit;
    } else if (inFlight * 2 >= this.limit) {
      this.value = Math.min(this.options.max, this.value + 1 / this.value);
    }
  }
}
