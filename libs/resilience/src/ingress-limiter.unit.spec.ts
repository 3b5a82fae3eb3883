import { Registry } from 'prom-client';
import { ResilienceError } from './errors';
import { IngressLimiter } from './ingress-limiter';

function refusal(fn: () => unknown): ResilienceError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ResilienceError) return err;
    throw err;
  }
  throw new Error('admitted');
}

describe('IngressLimiter', () => {
  let now = 0;
  const clock = () => now;

  it('holds each client to its own bucket: a noisy client is refused while a quiet one passes', async () => {
    const registry = new Registry();
    const limiter = new IngressLimiter({
      global: { ratePerSec: 1000, capacity: 1000 },
      perClient: { ratePerSec: 2, capacity: 2 },
      clock,
      registry,
    });
    expect(limiter.admit('noisy')).toMatchObject({ limit: 2, remaining: 1, windowSec: 1 });
    limiter.admit('noisy');
    const err = refusal(() => limiter.admit('noisy'));
    expect(err.code).toBe('rate_limited');
    expect(err.retryAfterMs).toBe(500);
    expect(err.retryAfterSec).toBe(1);
    expect(err.details).toMatchObject({ scope: 'client', remaining: 0 });
    expect(limiter.admit('quiet').remaining).toBe(1);
    expect(await registry.getSingleMetricAsString('sluice_rate_limited_total')).toContain('scope="client"} 1');
  });

  it('refuses everyone past the global rate, and a global refusal does not cost the client its token', () => {
    now = 0;
    const limiter = new IngressLimiter({
      global: { ratePerSec: 1, capacity: 2 },
      perClient: { ratePerSec: 1, capacity: 2 },
      clock,
    });
    limiter.admit('a');
    limiter.admit('b');
    expect(refusal(() => limiter.admit('a')).details).toMatchObject({ scope: 'global' });
    now = 1_000;
    expect(limiter.admit('a').remaining).toBe(1); // a: 2 - 1 taken at t=0 + 1 refilled - 1 now
  });

  it('tracks a bounded number of clients, dropping idle buckets first', () => {
    now = 0;
    const limiter = new IngressLimiter({
      global: { ratePerSec: 1e6, capacity: 1e6 },
      perClient: { ratePerSec: 1, capacity: 1 },
      maxClients: 3,
      clock,
    });
    for (const c of ['a', 'b', 'c', 'd', 'e']) limiter.admit(c);
    expect(limiter.trackedClients).toBe(3);
    expect(refusal(() => limiter.admit('e')).code).toBe('rate_limited');
  });
});
