import { Counter, type Registry } from 'prom-client';
import { ResilienceError } from './errors';
import { TokenBucket, type TokenBucketOptions } from './token-bucket';

export interface IngressLimiterOptions {
  /** What the service admits in total. */
  global: TokenBucketOptions;
  /** What one client may use of it. */
  perClient: TokenBucketOptions;
  /** Clients tracked at once; idle (full) buckets are dropped first, then the oldest. */
  maxClients?: number;
  clock?: () => number;
  registry?: Registry;
}

export interface IngressDecision {
  /** The policy the caller is held to (the per-client one), for RateLimit headers. */
  limit: number;
  windowSec: number;
  remaining: number;
  resetSec: number;
}

/**
 * The first stage: a global token bucket and one per client. A request takes a
 * token from its client's bucket, then from the global one; a refusal from the
 * global bucket gives the client's token back, so a crowd does not spend a
 * quiet client's share. Refusals throw rate_limited with the time until a
 * token is there.
 */
export class IngressLimiter {
  private readonly global: TokenBucket;
  private readonly clients = new Map<string, TokenBucket>();
  private readonly clock: () => number;
  private readonly maxClients: number;
  private readonly limited?: Counter<'scope'>;

  constructor(private readonly options: IngressLimiterOptions) {
    this.clock = options.clock ?? Date.now;
    this.maxClients = options.maxClients ?? 10_000;
    this.global = new TokenBucket(options.global, this.clock());
    if (options.registry) {
      this.limited = new Counter({
        name: 'sluice_rate_limited_total',
        help: 'Requests refused by the ingress token buckets, by scope (client or global)',
        labelNames: ['scope'],
        registers: [options.registry],
      });
    }
  }

  /** Admits the request or throws rate_limited; returns what the RateLimit headers tell the caller. */
  admit(clientId: string): IngressDecision {
    const now = this.clock();
    const bucket = this.bucketOf(clientId, now);
    const mine = bucket.take(now);
    const policy = { limit: this.options.perClient.capacity, windowSec: this.windowSec() };
    if (!mine.ok) {
      this.limited?.inc({ scope: 'client' });
      throw new ResilienceError('rate_limited', `client ${clientId} sent more than its rate allows`, mine.retryAfterMs, {
        ...policy,
        remaining: 0,
        resetSec: Math.ceil(mine.resetMs / 1000),
        scope: 'client',
      });
    }
    const all = this.global.take(now);
    if (!all.ok) {
      bucket.refund(now);
      this.limited?.inc({ scope: 'global' });
      throw new ResilienceError('rate_limited', 'the service admits no more requests right now', all.retryAfterMs, {
        ...policy,
        remaining: 0,
        resetSec: Math.ceil(all.retryAfterMs / 1000),
        scope: 'global',
      });
    }
    return { ...policy, remaining: mine.remaining, resetSec: Math.ceil(mine.resetMs / 1000) };
  }

  get trackedClients(): number {
    return this.clients.size;
  }

  private windowSec(): number {
    return Math.max(1, Math.round(this.options.perClient.capacity / this.options.perClient.ratePerSec));
  }

  private bucketOf(clientId: string, now: number): TokenBucket {
    let bucket = this.clients.get(clientId);
    if (bucket) {
      // Map order is insertion order: re-inserting keeps the most recent clients last.
      this.clients.delete(clientId);
    } else {
      if (this.clients.size >= this.maxClients) this.evict(now);
      bucket = new TokenBucket(this.options.perClient, now);
    }
    this.clients.set(clientId, bucket);
    return bucket;
  }

  private evict(now: number): void {
    for (const [id, b] of this.clients) if (b.isFull(now)) this.clients.delete(id);
    while (this.clients.size >= this.maxClients) {
      const oldest = this.clients.keys().next();
      if (oldest.done) break;
      this.clients.delete(oldest.value);
    }
  }
}
