import type { ChangeMessage } from '@sluice/projection-kit';
import type { ChangeFeed } from './change-feed';
import { VersionWaits } from './version-waits';

/** A change feed the test drives by hand. */
function fakeFeed() {
  const listeners = new Set<(m: ChangeMessage) => void>();
  const resets = new Set<() => void>();
  return {
    feed: {
      connected: true,
      subscribe: (l: (m: ChangeMessage) => void) => (listeners.add(l), () => listeners.delete(l)),
      onReset: (l: () => void) => (resets.add(l), () => resets.delete(l)),
    } as unknown as ChangeFeed,
    notify: (m: ChangeMessage) => listeners.forEach((l) => l(m)),
    reset: () => resets.forEach((l) => l()),
  };
}

describe('read-your-writes waits', () => {
  it('given a read waiting for version 3, when the projector notifies version 3 of that key, then it returns at once', async () => {
    const { feed, notify } = fakeFeed();
    const waits = new VersionWaits(feed, { maxWaiters: 10, pollMs: 60_000, disconnectedPollMs: 60_000 });
    let version = 2;
    const result = waits.until('wallet', 'w1', 3, 5_000, async () => version);
    await new Promise((r) => setImmediate(r));
    version = 3;
    notify({ kind: 'changed', projection: 'wallet', version: 1, keys: [{ key: 'w1', version: 3 }] });
    await expect(result).resolves.toMatchObject({ reached: true, version: 3 });
    expect(waits.pending).toBe(0);
  });

  it('given notifications for other keys or older versions, then it keeps waiting until the time is up', async () => {
    const { feed, notify } = fakeFeed();
    const waits = new VersionWaits(feed, { maxWaiters: 10, pollMs: 60_000, disconnectedPollMs: 60_000 });
    const result = waits.until('wallet', 'w1', 3, 150, async () => 2);
    await new Promise((r) => setImmediate(r));
    notify({ kind: 'changed', projection: 'wallet', version: 1, keys: [{ key: 'w2', version: 9 }] });
    notify({ kind: 'changed', projection: 'wallet', version: 1, keys: [{ key: 'w1', version: 2 }] });
    await expect(result).resolves.toMatchObject({ reached: false, version: 2 });
  });

  it('given a reconnect of the feed (notifications may have been missed), then waiting reads re-check', async () => {
    const { feed, reset } = fakeFeed();
    const waits = new VersionWaits(feed, { maxWaiters: 10, pollMs: 60_000, disconnectedPollMs: 60_000 });
    let version = 1;
    const result = waits.until('wallet', 'w1', 2, 5_000, async () => version);
    await new Promise((r) => setImmediate(r));
    version = 2;
    reset();
    await expect(result).resolves.toMatchObject({ reached: true });
  });

  it('given as many waiting reads as allowed, then one more answers at once instead of waiting', async () => {
    const { feed } = fakeFeed();
    const waits = new VersionWaits(feed, { maxWaiters: 1, pollMs: 60_000, disconnectedPollMs: 60_000 });
    const first = waits.until('wallet', 'w1', 2, 200, async () => 1);
    await new Promise((r) => setImmediate(r));
    const started = Date.now();
    await expect(waits.until('wallet', 'w2', 2, 5_000, async () => 1)).resolves.toMatchObject({ reached: false });
    expect(Date.now() - started).toBeLessThan(100);
    await first;
  });
});
