/**
 * A token bucket: `capacity` tokens at most (the burst), refilled at
 * `ratePerSec`. Time is passed in, so the bucket is a pure value holder and
 * tests need no clock.
 */
export interface TokenBucketOptions {
  ratePerSec: number;
  capacity: number;
}

export interface TakeResult {
  ok: boolean;
  /** Whole tokens left after this take. */
  remaining: number;
  /** When a refused take would succeed (0 when it succeeded). */
  retryAfterMs: number;
  /** When the bucket is full again. */
  resetMs: number;
}

export class TokenBucket {
  private tokens: number;
  private updatedAt: number;

  constructor(
    readonly options: TokenBucketOptions,
    now: number,
  ) {
    if (!(options.ratePerSec > 0) || !(options.capacity >= 1)) {
      throw new RangeError('a token bucket needs ratePerSec > 0 and capacity >= 1');
    }
    this.tokens = options.capacity;
    this.updatedAt = now;
  }

  take(now: number, n = 1): TakeResult {
    this.refill(now);
    const ok = this.tokens >= n;
    if (ok) this.tokens -= n;
    const perMs = this.options.ratePerSec / 1000;
    return {
      ok,
      remaining: Math.floor(this.tokens),
      retryAfterMs: ok ? 0 : Math.ceil((n - this.tokens) / perMs),
      resetMs: Math.ceil((this.options.capacity - this.tokens) / perMs),
    };
  }

  /** Gives tokens back (a request refused by a later stage should not cost its caller). */
  refund(now: number, n = 1): void {
    this.refill(now);
    this.tokens = Math.min(this.options.capacity, this.tokens + n);
  }

  /** True when the bucket has refilled completely: it then holds no state worth keeping. */
  isFull(now: number): boolean {
    this.refill(now);
    return this.tokens >= this.options.capacity;
  }

  private refill(now: number): void {
    const elapsed = Math.max(0, now - this.updatedAt);
    this.tokens = Math.min(this.options.capacity, this.tokens + (elapsed * this.options.ratePerSec) / 1000);
    this.updatedAt = now;
  }
}
