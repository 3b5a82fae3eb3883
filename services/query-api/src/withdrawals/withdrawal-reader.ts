import { findWithdrawal, type WithdrawalRecord } from '@sluice/projection-withdrawals';
import { CachedReader, type VersionedRead } from '../read-model/cached-reader';
import type { Lag } from '../read-model/freshness';
import type { ReadModel } from '../read-model/read-model';

/**
 * Reads withdrawal status (projections/withdrawals). `watch` yields the
 * withdrawal each time the projector changes it, driven by the same change
 * notifications as the cache: the stream a status push (SSE, WebSocket)
 * sends, one event per state.
 */
export class WithdrawalReader {
  private readonly reader: CachedReader<WithdrawalRecord>;

  constructor(private readonly rm: ReadModel) {
    this.reader = new CachedReader(
      rm,
      'withdrawals',
      'withdrawal',
      (id) => findWithdrawal(rm.pool, id),
      (w) => w.version,
    );
  }

  read(withdrawalId: string, minVersion: number | undefined, waitMs: number): Promise<VersionedRead<WithdrawalRecord>> {
    return this.reader.read(withdrawalId, minVersion, waitMs);
  }

  lag(walletId: string): Promise<Lag | undefined> {
    return this.rm.freshness.lagOf('withdrawals', walletId);
  }

  /**
   * The withdrawal now (once it exists), then again after every change, until
   * it reaches a final state or `signal` aborts. Each change yields the state
   * the read model holds at that moment: states it passed through in between
   * (a failure and its compensation folded in one batch) come out as the
   * latest one. Missed notifications (a reconnect) trigger a re-read, so the
   * stream never stays behind; an unchanged version is not repeated.
   */
  async *watch(withdrawalId: string, signal: AbortSignal): AsyncGenerator<WithdrawalRecord> {
    let wake: () => void = () => undefined;
    const changed = () => wake();
    const offChange = this.rm.feed.subscribe((m) => {
      if (m.projection !== 'withdrawals') return;
      if (m.kind === 'switched' || m.keys.some((k) => k.key === withdrawalId)) changed();
    });
    const offReset = this.rm.feed.onReset(changed);
    signal.addEventListener('abort', changed);
    try {
      let lastVersion = -1;
      while (!signal.aborted) {
        const next = new Promise<void>((resolve) => {
          wake = resolve;
          // A safety net: re-read now and then even when nothing was heard.
          setTimeout(resolve, 5_000).unref();
        });
        const current = await this.reader.find(withdrawalId, { fresh: true });
        if (current && current.version !== lastVersion) {
          lastVersion = current.version;
          yield current;
          if (current.state === 'completed' || current.state === 'compensated') return;
        }
        await next;
      }
    } finally {
      offChange();
      offReset();
      signal.removeEventListener('abort', changed);
    }
  }
}
