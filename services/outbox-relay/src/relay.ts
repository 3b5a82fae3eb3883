import { setTimeout as sleep } from 'node:timers/promises';
import { errorMessage, isRetriable, SluiceError } from '@sluice/core';
import type { Logger } from '@sluice/observability';
import type { LeaderLock } from './leader';
import type { RelayMetrics } from './metrics';
import type { OutboxSource } from './source';

export type RelayState = 'standby' | 'starting' | 'streaming' | 'waiting' | 'stopped' | 'failed';
const STATES: readonly RelayState[] = ['standby', 'starting', 'streaming', 'waiting', 'stopped', 'failed'];

/** Errors that stop the relay for good: retrying cannot fix them, an operator must. */
export function isFatal(err: unknown): boolean {
  return err instanceof SluiceError && !err.retriable && FATAL_CODES.has(codeOf(err) ?? '');
}

function codeOf(err: unknown): string | undefined {
  return err instanceof SluiceError ? (err as SluiceError<string>).code : undefined;
}
// A lost or recreated slot is not among them: the relay replaces it and republishes the retained outbox.
const FATAL_CODES = new Set(['slot_invalid', 'publication_invalid', 'wal_level_not_logical']);

/**
 * Runs an outbox source while this process leads: standby until it holds the
 * leader lock, then sessions with exponential backoff and jitter between them
 * (PostgreSQL or Kafka errors), until stopped. A fatal error (a slot of
 * another plugin, a publication that does not cover the outbox, ...) rejects
 * run(): the process exits non-zero and the supervisor restarts it, printing
 * the error each time.
 */
export class Relay {
  private stopping = false;
  private stateValue: RelayState = 'standby';
  private lastProgressAt = Date.now();
  private wake: (() => void) | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly source: OutboxSource,
    private readonly leader: LeaderLock,
    private readonly options: { statusIntervalMs: number; backoff: { initialMs: number; maxMs: number } },
    private readonly metrics: RelayMetrics,
    private readonly logger: Logger,
  ) {
    leader.onLost(() => {
      // The publisher refuses from now on; this ends the session (or its backoff) promptly too.
      this.wake?.();
      void this.source.interrupt();
    });
  }

  get state(): RelayState {
    return this.stateValue;
  }

  /** Milliseconds since the relay last made progress (a standby counts as progressing). */
  get sinceProgressMs(): number {
    return this.stateValue === 'standby' ? 0 : Date.now() - this.lastProgressAt;
  }

  markProgress(): void {
    this.lastProgressAt = Date.now();
  }

  async run(): Promise<void> {
    this.timer = setInterval(() => this.tick(), this.options.statusIntervalMs);
    try {
      while (!this.stopping) {
        this.setState('standby');
        const acquired = await this.leader.acquire(
          () => this.stopping,
          () => this.setState('standby'),
        );
        if (!acquired) break;
        this.logger.info('leading: streaming the outbox');
        try {
          await this.lead();
        } finally {
          await this.leader.release();
        }
      }
      this.setState('stopped');
    } finally {
      clearInterval(this.timer);
    }
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.wake?.();
    await this.source.interrupt();
  }

  private async lead(): Promise<void> {
    let backoff = this.options.backoff.initialMs;
    while (!this.stopping && this.leader.held) {
      this.setState('starting');
      try {
        let settled = false;
        const session = this.source.session().finally(() => (settled = true));
        void this.watchStreaming(() => settled);
        await session;
        backoff = this.options.backoff.initialMs;
      } catch (err) {
        if (this.stopping || !this.leader.held) return;
        if (isFatal(err)) {
          this.setState('failed');
          throw err;
        }
        const reason = codeOf(err) ?? (isRetriable(err) ? 'retriable' : 'error');
        this.metrics.reconnects.inc({ reason });
        this.setState('waiting');
        this.logger.warn({ err: errorMessage(err), backoffMs: backoff }, 'outbox session ended; starting a new one');
        await this.sleep(backoff * (0.5 + Math.random() / 2));
        backoff = Math.min(backoff * 2, this.options.backoff.maxMs);
      }
    }
  }

  /** Marks the relay streaming once the session is connected, unless it ended first. */
  private async watchStreaming(ended: () => boolean): Promise<void> {
    while (!this.source.streaming && !ended()) await sleep(10);
    if (!ended()) {
      this.setState('streaming');
      this.markProgress();
    }
  }

  private tick(): void {
    if (this.stateValue === 'streaming') {
      this.source.tick();
      // A connected, idle session is progress too.
      this.markProgress();
    }
  }

  private setState(state: RelayState): void {
    this.stateValue = state;
    for (const s of STATES) this.metrics.state.set({ state: s }, s === state ? 1 : 0);
    this.metrics.leader.set(state === 'standby' || state === 'stopped' ? 0 : 1);
  }

  private async sleep(ms: number): Promise<void> {
    await Promise.race([sleep(ms), new Promise<void>((r) => (this.wake = r))]);
  }
}
