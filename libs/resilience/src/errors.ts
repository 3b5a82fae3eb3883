import { SluiceError } from '@sluice/core';

/**
 * Why a stage refused work. All are retriable: the same request later can
 * succeed, and `retryAfterMs` says when trying again is worth it.
 * - rate_limited: the caller (or everyone together) sent more than its share.
 * - overloaded: the dependency's concurrency limit and wait queue are full, or
 *   the request waited in the queue longer than it may.
 * - load_shed: a downstream stage is behind (relay lag, retained WAL), so new
 *   work is refused before it adds to the backlog.
 * - deadline_exceeded: the request's time budget ran out.
 */
export type ResilienceErrorCode = 'rate_limited' | 'overloaded' | 'load_shed' | 'deadline_exceeded';

export class ResilienceError extends SluiceError<ResilienceErrorCode> {
  constructor(
    code: ResilienceErrorCode,
    message: string,
    readonly retryAfterMs: number,
    details: Record<string, unknown> = {},
  ) {
    super(code, message, { retriable: true, details });
  }

  /** Retry-After in whole seconds, at least 1 (HTTP has no finer unit). */
  get retryAfterSec(): number {
    return Math.max(1, Math.ceil(this.retryAfterMs / 1000));
  }
}
