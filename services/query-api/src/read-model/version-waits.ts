import type { ChangeFeed } from './change-feed';

interface Waiter {
  readonly minVersion: number;
  wake(): void;
}

export interface WaitResult {
  /** The version reached, or the last one seen (undefined: the key is not in the read model). */
  readonly version: number | undefined;
  readonly reached: boolean;
  readonly waitedMs: number;
}

/**
 * Read-your-writes: a request asking for at least version N of a key waits,
 * bounded, until the read model has it. Woken by the projector's change
 * notifications for that key (no polling load while they flow); re-checks on
 * a slow timer as a safety net, and on a fast one while the feed is down.
 */
export class VersionWaits {
  private readonly waiters = new Map<string, Set<Waiter>>();
  private count = 0;

  constructor(
    feed: ChangeFeed,
    private readonly options: { maxWaiters: number; pollMs: number; disconnectedPollMs: number },
    private readonly isConnected: () => boolean = () => feed.connected,
    private readonly clock: () => number = Date.now,
  ) {
    feed.subscribe((m) => {
      if (m.kind === 'switched') {
        this.wakeWhere((k) => k.startsWith(`${m.projection}|`));
        return;
      }
      for (const { key, version } of m.keys) {
        const set = this.waiters.get(`${m.projection}|${key}`);
        if (set) for (const w of set) if (version >= w.minVersion) w.wake();
      }
    });
    feed.onReset(() => this.wakeWhere(() => true));
  }

  get pending(): number {
    return this.count;
  }

  /**
   * Resolves as soon as `current()` reports minVersion or more, or when
   * timeoutMs is up (reached false: the caller answers what it has, marked
   * stale). Over maxWaiters, it does not wait at all.
   */
  async until(
    projection: string,
    key: string,
    minVersion: number,
    timeoutMs: number,
    current: () => Promise<number | undefined>,
  ): Promise<WaitResult> {
    const started = this.clock();
    const deadline = started + timeoutMs;
    const id = `${projection}|${key}`;
    for (;;) {
      const version = await current();
      const waitedMs = this.clock() - started;
      if (version !== undefined && version >= minVersion) return { version, reached: true, waitedMs };
      const left = deadline - this.clock();
      if (left <= 0 || this.count >= this.options.maxWaiters) return { version, reached: false, waitedMs };
      await this.sleep(
        id,
        minVersion,
        Math.min(left, this.isConnected() ? this.options.pollMs : this.options.disconnectedPollMs),
      );
    }
  }

  private sleep(id: string, minVersion: number, ms: number): Promise<void> {
    return new Promise((resolve) => {
      let set = this.waiters.get(id);
      if (!set) this.waiters.set(id, (set = new Set()));
      const waiter: Waiter = {
        minVersion,
        wake: () => {
          clearTimeout(timer);
          set.delete(waiter);
          if (set.size === 0) this.waiters.delete(id);
          this.count--;
          resolve();
        },
      };
      const timer = setTimeout(() => waiter.wake(), ms);
      set.add(waiter);
      this.count++;
    });
  }

  private wakeWhere(match: (id: string) => boolean): void {
    for (const [id, set] of [...this.waiters]) if (match(id)) for (const w of [...set]) w.wake();
  }
}
