import { ResilienceError } from './errors';

/**
 * A request's time budget, fixed when the request arrives and carried down to
 * every stage below it: queue waits, database statements and outgoing calls
 * take what is left, never a fresh timeout of their own.
 */
export class Deadline {
  private constructor(
    readonly expiresAt: number,
    private readonly clock: () => number,
  ) {}

  static after(budgetMs: number, clock: () => number = Date.now): Deadline {
    return new Deadline(clock() + budgetMs, clock);
  }

  /** A budget that began at `startedAt` (epoch ms), never later than now: time already waited is spent. */
  static since(startedAt: number, budgetMs: number, clock: () => number = Date.now): Deadline {
    return new Deadline(Math.min(startedAt, clock()) + budgetMs, clock);
  }

  /** Milliseconds left, never negative. */
  remainingMs(): number {
    return Math.max(0, this.expiresAt - this.clock());
  }

  get expired(): boolean {
    return this.remainingMs() === 0;
  }

  /** A deadline no later than this one and at most `ms` from now. */
  cap(ms: number): Deadline {
    return new Deadline(Math.min(this.expiresAt, this.clock() + ms), this.clock);
  }

  /** Throws deadline_exceeded when the budget is spent; `what` names the stage that found out. */
  check(what: string): void {
    if (this.expired) throw deadlineExceeded(what);
  }
}

export function deadlineExceeded(what: string, retryAfterMs = 1_000): ResilienceError {
  return new ResilienceError('deadline_exceeded', `the request's time budget ran out ${what}`, retryAfterMs);
}
