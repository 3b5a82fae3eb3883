import { SluiceError } from '@sluice/core';
import { Deadline } from './deadline';
import { exponentialDelay, fullJitterDelay, retry } from './retry';

const transient = () => new SluiceError('timeout', 'no answer', { retriable: true });
const permanent = () => new SluiceError('declined', 'refused', { retriable: false });

describe('exponentialDelay', () => {
  it('doubles from baseMs with each retry, capped at maxMs', () => {
    expect([1, 2, 3, 4, 5].map((n) => exponentialDelay(n, 100, 1_000))).toEqual([100, 200, 400, 800, 1_000]);
  });

  it('stays at the cap however many retries (no overflow to Infinity or NaN)', () => {
    expect(exponentialDelay(5_000, 100, 1_000)).toBe(1_000);
  });
});

describe('fullJitterDelay', () => {
  it('is uniform between 0 and the doubling ceiling, capped at maxMs', () => {
    expect(fullJitterDelay(1, 100, 1_000, () => 0.999)).toBe(99);
    expect(fullJitterDelay(2, 100, 1_000, () => 0.5)).toBe(100);
    expect(fullJitterDelay(3, 100, 1_000, () => 0.999)).toBe(399);
    expect(fullJitterDelay(10, 100, 1_000, () => 0.999)).toBe(999);
    expect(fullJitterDelay(1, 100, 1_000, () => 0)).toBe(0);
  });
});

describe('retry', () => {
  it('given a transient failure, retries at most `retries` times with the same call, pausing a jittered, growing time', async () => {
    const pauses: number[] = [];
    const attempts: number[] = [];
    const err = await retry(
      async (attempt) => {
        attempts.push(attempt);
        throw transient();
      },
      { retries: 2, baseMs: 100, maxMs: 1_000, random: () => 0.5, sleep: async (ms) => pauses.push(ms) },
    ).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'timeout' });
    expect(attempts).toEqual([1, 2, 3]);
    expect(pauses).toEqual([50, 100]);
  });

  it('returns the first success', async () => {
    let n = 0;
    const result = await retry(
      async () => {
        if (++n < 2) throw transient();
        return 'paid';
      },
      { retries: 2, baseMs: 1, maxMs: 1, sleep: async () => undefined },
    );
    expect(result).toBe('paid');
    expect(n).toBe(2);
  });

  it('never retries a failure that says retrying cannot help', async () => {
    let n = 0;
    await expect(
      retry(
        async () => {
          n++;
          throw permanent();
        },
        { retries: 2, baseMs: 1, maxMs: 1, sleep: async () => undefined },
      ),
    ).rejects.toMatchObject({ code: 'declined' });
    expect(n).toBe(1);
  });

  it('does not start a retry whose pause would outlast the deadline', async () => {
    let n = 0;
    const onRetry = jest.fn();
    await expect(
      retry(
        async () => {
          n++;
          throw transient();
        },
        { retries: 2, baseMs: 10_000, maxMs: 10_000, random: () => 0.5, deadline: Deadline.after(1_000), onRetry },
      ),
    ).rejects.toMatchObject({ code: 'timeout' });
    expect(n).toBe(1);
    expect(onRetry).not.toHaveBeenCalled();
  });
});
