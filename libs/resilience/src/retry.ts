import { setTimeout as sleep } from 'node:timers/promises';
import { isRetriable } from '@sluice/core';
import type { Deadline } from './deadline';

export interface RetryOptions {
  /** Retries after the first try: 2 means at most three tries. */
  retries: number;
  /** The backoff ceiling of the first retry; it doubles with each one. */
  baseMs: number;
  /** No backoff ceiling grows past this. */
  maxMs: number;
  /** Whether a failure is worth another try; by default what the error says (SluiceError.retriable). */
  shouldRetry?: (err: unknown, attempt: number) => boolean;
  /** No retry starts after this; a backoff that would end past it is not slept. */
  deadline?: Deadline;
  /** Told before each retry, with the pause chosen. */
  onRetry?: (err: unknown, attempt: number, delayMs: number) => void;
  random?: () => number;
  sleep?: (ms: number) => Promise<unknown>;
}

/**
 * The capped exponential delay before retry n (1-based): min(maxMs, baseMs × 2^(n−1)).
 * Without jitter, for a single waiter that nothing else retries in step with
 * (an idle poll, a client library's own reconnects); the ceiling of fullJitterDelay.
 */
export function exponentialDelay(retry: number, baseMs: number, maxMs: number): number {
  return Math.min(maxMs, baseMs * 2 ** Math.max(0, retry - 1));
}

/**
 * Exponential backoff with full jitter (AWS's "Exponential Backoff And
 * Jitter"): the pause before retry n (1-based) is uniform in
 * [0, min(maxMs, baseMs × 2^(n−1))]. Spreading retries over the whole range
 * keeps clients that failed together from retrying together.
 */
export function fullJitterDelay(retry: number, baseMs: number, maxMs: number, random: () => number = Math.random): number {
  return Math.floor(random() * exponentialDelay(retry, baseMs, maxMs));
}

/**
 * Runs fn, and again after a jittered pause when it fails with something
 * worth retrying, at most `retries` more times. Only for idempotent
 * operations: every try must be safe to repeat (an outgoing payout carries
 * the same idempotency key each time). The last failure is rethrown as it is.
 */
export async function retry<T>(fn: (attempt: number) => Promise<T>, options: RetryOptions): Promise<T> {
  const shouldRetry = options.shouldRetry ?? ((err: unknown) => isRetriable(err));
  const pause = options.sleep ?? ((ms: number) => sleep(ms));
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (err) {
      if (attempt > options.retries || !shouldRetry(err, attempt)) throw err;
      const delayMs = fullJitterDelay(attempt, options.baseMs, options.maxMs, options.random);
      if (options.deadline && options.deadline.remainingMs() <= delayMs) throw err;
      options.onRetry?.(err, attempt, delayMs);
      await pause(delayMs);
    }
  }
}
