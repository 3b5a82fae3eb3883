import { setTimeout as sleep } from 'node:timers/promises';
import { checkLock, LockWatch, TIMED_OUT, within, type CheckOutcome } from './leader-watch';

const never = () => new Promise<boolean>(() => undefined);

describe('checkLock', () => {
  it('says held when PostgreSQL answers that the session holds the lock', async () => {
    expect(await checkLock(async () => true, 100)).toEqual({ held: true });
  });

  it('says lock_missing when the session no longer holds it', async () => {
    expect(await checkLock(async () => false, 100)).toEqual({ held: false, reason: 'lock_missing' });
  });

  it('says check_failed, with the error, when the query fails', async () => {
    const err = new Error('Connection terminated');
    expect(await checkLock(() => Promise.reject(err), 100)).toEqual({ held: false, reason: 'check_failed', err });
  });

  it('says check_timeout when no answer comes within the deadline', async () => {
    const started = Date.now();
    expect(await checkLock(never, 50)).toEqual({ held: false, reason: 'check_timeout' });
    expect(Date.now() - started).toBeLessThan(500);
  });
});

describe('within', () => {
  it('returns the result in time and TIMED_OUT when late', async () => {
    expect(await within(Promise.resolve(1), 50)).toBe(1);
    expect(
      await within(
        sleep(200).then(() => 1),
        20,
      ),
    ).toBe(TIMED_OUT);
  });
});

describe('LockWatch', () => {
  const watches: LockWatch[] = [];
  afterEach(() => watches.splice(0).forEach((w) => w.stop()));

  function watch(probe: () => Promise<boolean>, everyMs = 20, timeoutMs = 50) {
    const lost: CheckOutcome[] = [];
    const w = new LockWatch(probe, { everyMs, timeoutMs }, (o) => lost.push(o));
    watches.push(w);
    w.start();
    return { w, lost };
  }

  it('keeps checking while the lock is held, one probe at a time', async () => {
    let calls = 0;
    let running = 0;
    let overlapped = false;
    const { lost } = watch(async () => {
      calls++;
      overlapped ||= ++running > 1;
      await sleep(30); // slower than the interval, within the deadline
      running--;
      return true;
    });
    await sleep(300);
    expect(calls).toBeGreaterThanOrEqual(3);
    expect(overlapped).toBe(false);
    expect(lost).toEqual([]);
  });

  it('reports a stalled connection once, within the interval plus the deadline', async () => {
    let calls = 0;
    const started = Date.now();
    const { lost } = watch(() => (++calls === 1 ? Promise.resolve(true) : never()), 20, 50);
    while (lost.length === 0 && Date.now() - started < 1_000) await sleep(5);
    expect(lost).toEqual([{ held: false, reason: 'check_timeout' }]);
    // The first check (20 ms), the second (20 ms) and its deadline (50 ms), with room for a slow machine.
    expect(Date.now() - started).toBeLessThan(400);
    await sleep(150);
    expect(lost).toHaveLength(1);
    expect(calls).toBe(2);
  });

  it('reports a lock that is gone', async () => {
    const { lost } = watch(async () => false);
    await sleep(100);
    expect(lost).toEqual([{ held: false, reason: 'lock_missing' }]);
  });

  it('reports nothing, and stops probing, after stop()', async () => {
    let calls = 0;
    const { w, lost } = watch(async () => {
      calls++;
      return false;
    }, 50);
    w.stop();
    await sleep(150);
    expect(calls).toBe(0);
    expect(lost).toEqual([]);
  });
});
