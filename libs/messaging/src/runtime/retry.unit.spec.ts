import { SluiceError } from '@sluice/core';
import { RecordError } from './errors';
import { defaultRetryClass, retry } from './retry';
import { context, messages, record } from './test-support';

const passing = () => new SluiceError('overloaded', 'busy', { retriable: true });
const options = { maxAttempts: 3, baseMs: 1, maxMs: 2 };

describe('retry middleware', () => {
  it('given a passing failure, when a later try succeeds, then the batch is done', async () => {
    let calls = 0;
    const ctx = context();
    await retry(options)(async () => {
      if (++calls < 3) throw passing();
    })(messages(record(1)), ctx);
    expect(calls).toBe(3);
    expect(ctx.heartbeats).toBe(2);
  });

  it('given a failure that keeps passing, after maxAttempts it fails as retries_exhausted naming the record', async () => {
    let calls = 0;
    const only = record(1);
    const err = await retry(options)(async () => {
      calls++;
      throw passing();
    })(messages(only), context()).catch((e: unknown) => e);
    expect(calls).toBe(3);
    expect(err).toBeInstanceOf(RecordError);
    expect(err).toMatchObject({ code: 'retries_exhausted', retriable: false, record: only, details: { attempts: 3 } });
  });

  it('does not retry a failure that is not retriable', async () => {
    let calls = 0;
    const refused = new SluiceError('insufficient_funds', 'no');
    const err = await retry(options)(async () => {
      calls++;
      throw refused;
    })(messages(record(1)), context()).catch((e: unknown) => e);
    expect(err).toBe(refused);
    expect(calls).toBe(1);
  });

  it('retries an unreachable registry past maxAttempts, until it answers', async () => {
    let calls = 0;
    const kinds: string[] = [];
    await retry({ ...options, onRetry: (_e, _a, _d, kind) => kinds.push(kind) })(async () => {
      if (++calls < 10) throw new SluiceError('registry_unavailable', 'down', { retriable: true });
    })(messages(record(1)), context());
    expect(calls).toBe(10);
    expect(new Set(kinds)).toEqual(new Set(['forever']));
  });

  it('uses the full-jitter backoff: each pause is below min(maxMs, baseMs·2^(n−1))', async () => {
    const delays: number[] = [];
    let calls = 0;
    await retry({ maxAttempts: 5, baseMs: 4, maxMs: 10, random: () => 0.999, onRetry: (_e, _a, d) => delays.push(d) })(
      async () => {
        if (++calls < 5) throw passing();
      },
    )(messages(record(1)), context());
    expect(delays).toEqual([3, 7, 9, 9]);
  });

  it('gives up at once when stopping', async () => {
    const abort = new AbortController();
    let calls = 0;
    const run = retry({ maxAttempts: 100, baseMs: 10_000, maxMs: 10_000, random: () => 0.5 })(async () => {
      calls++;
      abort.abort();
      throw passing();
    });
    await expect(run(messages(record(1)), context({ signal: abort.signal }))).rejects.toMatchObject({ code: 'overloaded' });
    expect(calls).toBe(1);
  });
});

describe('defaultRetryClass', () => {
  const coded = (code: string) => Object.assign(new Error('x'), { code });

  it('reads the SluiceError flag, and waits out an unreachable registry', () => {
    expect(defaultRetryClass(passing())).toBe('bounded');
    expect(defaultRetryClass(new SluiceError('schema_not_found', 'x'))).toBe('never');
    expect(defaultRetryClass(new SluiceError('registry_unavailable', 'x', { retriable: true }))).toBe('forever');
  });

  it('reads a SQLSTATE: data errors are never retried, an absent database is waited out', () => {
    expect(defaultRetryClass(coded('23505'))).toBe('never');
    expect(defaultRetryClass(coded('22P02'))).toBe('never');
    expect(defaultRetryClass(coded('57P01'))).toBe('forever');
    expect(defaultRetryClass(coded('40001'))).toBe('bounded');
  });

  it('waits out network errors and bounds anything else', () => {
    expect(defaultRetryClass(coded('ECONNREFUSED'))).toBe('forever');
    expect(defaultRetryClass(new TypeError('x'))).toBe('bounded');
  });
});
