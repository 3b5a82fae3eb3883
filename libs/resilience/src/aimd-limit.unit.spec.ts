import { AimdLimit } from './aimd-limit';

describe('AimdLimit', () => {
  const options = { initial: 10, min: 2, max: 20, latencyThresholdMs: 50 };

  it('grows by about one per limit of fast calls while the limit is in use', () => {
    const limit = new AimdLimit(options);
    for (let i = 0; i < 10; i++) limit.sample(5, 10, false);
    expect(limit.limit).toBe(10);
    limit.sample(5, 10, false);
    expect(limit.limit).toBe(11);
  });

  it('does not grow while the limit is mostly idle (the load, not the dependency, is the bound)', () => {
    const limit = new AimdLimit(options);
    for (let i = 0; i < 100; i++) limit.sample(5, 1, false);
    expect(limit.limit).toBe(10);
  });

  it('shrinks multiplicatively on a timeout or a slow call, once per window of calls, never below min, never above max', () => {
    const limit = new AimdLimit(options);
    limit.sample(5, 10, true);
    expect(limit.limit).toBe(9);
    // The other calls of the same episode, completing slow, do not shrink it again.
    for (let i = 0; i < 8; i++) limit.sample(80, 9, false);
    expect(limit.limit).toBe(9);
    limit.sample(80, 9, false);
    limit.sample(80, 9, false);
    expect(limit.limit).toBe(8);
    for (let i = 0; i < 1_000; i++) limit.sample(1_000, 1, false);
    expect(limit.limit).toBe(2);
    for (let i = 0; i < 10_000; i++) limit.sample(1, 20, false);
    expect(limit.limit).toBe(20);
  });

  it('refuses bounds that cannot hold', () => {
    expect(() => new AimdLimit({ ...options, min: 0 })).toThrow(RangeError);
    expect(() => new AimdLimit({ ...options, initial: 30 })).toThrow(RangeError);
    expect(() => new AimdLimit({ ...options, backoff: 1 })).toThrow(RangeError);
  });
});
