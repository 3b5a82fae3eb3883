/** Why a leader stopped counting itself the leader: the label of sluice_relay_leader_lost_total. */
export type LeaderLostReason = 'connection_ended' | 'check_failed' | 'check_timeout' | 'lock_missing';

export const TIMED_OUT: unique symbol = Symbol('timed out');

/**
 * `work`'s result, or TIMED_OUT once `ms` passed. The work itself goes on (a
 * query on a stalled socket cannot be cancelled): the caller destroys what it ran on.
 */
export async function within<T>(work: Promise<T>, ms: number): Promise<T | typeof TIMED_OUT> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<typeof TIMED_OUT>((resolve) => (timer = setTimeout(() => resolve(TIMED_OUT), ms)));
  try {
    return await Promise.race([work, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Asks PostgreSQL whether this session still holds the lock: resolves true if
 * it does, false if it does not, rejects if the question could not be asked.
 */
export type LockProbe = () => Promise<boolean>;

export type CheckOutcome = { held: true } | { held: false; reason: Exclude<LeaderLostReason, 'connection_ended'>; err?: unknown };

/** One probe under a deadline. */
export async function checkLock(probe: LockProbe, timeoutMs: number): Promise<CheckOutcome> {
  try {
    const held = await within(probe(), timeoutMs);
    if (held === TIMED_OUT) return { held: false, reason: 'check_timeout' };
    return held ? { held: true } : { held: false, reason: 'lock_missing' };
  } catch (err) {
    return { held: false, reason: 'check_failed', err };
  }
}

/**
 * Probes the lock every `everyMs` while it is held, one probe at a time, each
 * with `timeoutMs` to answer. A silent connection raises no socket error for
 * minutes (TCP retransmits, or for ever when the peer is merely unreachable),
 * so only an answer proves the lock: a leader on a stalled or partitioned
 * connection learns within everyMs + timeoutMs that it may no longer publish.
 * Calls `onLost` at most once, and never after stop().
 */
export class LockWatch {
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly probe: LockProbe,
    private readonly options: { everyMs: number; timeoutMs: number },
    private readonly onLost: (outcome: Extract<CheckOutcome, { held: false }>) => void,
  ) {}

  start(): void {
    this.schedule();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.check(), this.options.everyMs);
  }

  private async check(): Promise<void> {
    const outcome = await checkLock(this.probe, this.options.timeoutMs);
    if (this.stopped) return;
    if (outcome.held) return this.schedule();
    this.stopped = true;
    this.onLost(outcome);
  }
}
