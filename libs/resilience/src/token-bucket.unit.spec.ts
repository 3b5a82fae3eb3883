import { TokenBucket } from './token-bucket';

describe('TokenBucket', () => {
  it('given a full bucket, a burst of capacity passes and the next take is refused with the time to the next token', () => {
    const bucket = new TokenBucket({ ratePerSec: 10, capacity: 5 }, 0);
    for (let i = 0; i < 5; i++) expect(bucket.take(0).ok).toBe(true);
    const refused = bucket.take(0);
    expect(refused).toMatchObject({ ok: false, remaining: 0, retryAfterMs: 100, resetMs: 500 });
  });

  it('refills at its rate and never beyond capacity', () => {
    const bucket = new TokenBucket({ ratePerSec: 10, capacity: 5 }, 0);
    for (let i = 0; i < 5; i++) bucket.take(0);
    expect(bucket.take(250)).toMatchObject({ ok: true, remaining: 1 });
    expect(bucket.isFull(10_000)).toBe(true);
    expect(bucket.take(10_000).remaining).toBe(4);
  });

  it('gives a refunded token back', () => {
    const bucket = new TokenBucket({ ratePerSec: 1, capacity: 1 }, 0);
    bucket.take(0);
    bucket.refund(0);
    expect(bucket.take(0).ok).toBe(true);
  });

  it('refuses a rate or capacity that cannot work', () => {
    expect(() => new TokenBucket({ ratePerSec: 0, capacity: 1 }, 0)).toThrow(RangeError);
    expect(() => new TokenBucket({ ratePerSec: 1, capacity: 0 }, 0)).toThrow(RangeError);
  });
});
