/**
 * An adaptive concurrency limit, additive increase / multiplicative decrease
 * (TCP's congestion control, as Netflix's concurrency-limits applies it to
 * services). Each completed call is a sample:
 * - dropped (timed out, or refused by the dependency as overloaded), or slower
 *   than `latencyThresholdMs`: the limit shrinks to limit × backoff;
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
    if (dropped || latencyMs > this.options.latencyThresholdMs) {
      this.value = Math.max(this.options.min, this.value * this.backoff);
    } else if (inFlight * 2 >= this.limit) {
      this.value = Math.min(this.options.max, this.value + 1 / this.value);
    }
  }
}
