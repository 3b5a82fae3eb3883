import { setTimeout as sleep } from 'node:timers/promises';
import { errorMessage, isRetriable, SluiceError } from '@sluice/core';
import { fullJitterDelay } from '@sluice/resilience';
import { failedRecord, RecordError } from './errors';
import type { Middleware } from './ports';

/**
 * How a failure is retried: `bounded` at most maxAttempts times then given
 * up (dead-lettered), `forever` until it passes (the infrastructure is down,
 * not the record: parking would park everything), `never` (the record is to
 * blame).
 */
export type RetryClass = 'bounded' | 'forever' | 'never';

/** SQLSTATE classes that blame the data (a bad value, a constraint): retrying cannot help. */
const DATA_CLASSES = new Set(['22', '23']);
/** SQLSTATE classes that blame the database being away or out of resources: waited out. */
const OUTAGE_CLASSES = new Set(['08', '53', '57']);

function errorCodeOf(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' ? code : undefined;
}

/**
 * The default classification, from what an error carries (never its text):
 * a SluiceError by its retriable flag, an unreachable registry or broker
 * (registry_unavailable, broker_unavailable) waited out;
 * a PostgreSQL error by its SQLSTATE class; a Node.js network error
 * (ECONNREFUSED, ETIMEDOUT, ...) waited out; anything else bounded.
 */
export function defaultRetryClass(err: unknown): RetryClass {
  // A failure pinned on its record is classified by what caused it.
  if (err instanceof RecordError && err.code !== 'retries_exhausted' && err.cause !== undefined) {
    return defaultRetryClass(err.cause);
  }
  if (err instanceof SluiceError) {
    if (err.code === 'registry_unavailable' || err.code === 'broker_unavailable') return 'forever';
    return err.retriable ? 'bounded' : 'never';
  }
  if (isRetriable(err)) return 'bounded';
  const code = errorCodeOf(err);
  if (code !== undefined && /^[0-9A-Z]{5}$/.test(code)) {
    if (DATA_CLASSES.has(code.slice(0, 2))) return 'never';
    if (OUTAGE_CLASSES.has(code.slice(0, 2))) return 'forever';
    return 'bounded';
  }
  if (code !== undefined && /^E[A-Z]+$/.test(code)) return 'forever';
  return 'bounded';
}

export interface RetryMiddlewareOptions {
  /** Tries of a bounded failure, the first included. */
  maxAttempts: number;
  /** Full-jitter backoff (libs/resilience): the pause before retry n is uniform in [0, min(maxMs, baseMs·2^(n−1))]. */
  baseMs: number;
  maxMs: number;
  classify?: (err: unknown) => RetryClass;
  onRetry?: (err: unknown, attempt: number, delayMs: number, kind: RetryClass, topic: string) => void;
  random?: () => number;
}

/**
 * Retries the handler on failures worth retrying, with full-jitter backoff,
 * heartbeating between tries. A bounded failure that outlasts maxAttempts is
 * rethrown as a non-retriable `retries_exhausted` (naming the record when
 * the failure or the batch names one), for the dead-letter middleware.
 * Stopping or a revoked partition ends a wait at once and rethrows.
 */
export function retry(options: RetryMiddlewareOptions): Middleware {
  const classify = options.classify ?? defaultRetryClass;
  return (next) => async (messages, ctx) => {
    for (let attempt = 1; ; attempt++) {
      try {
        await next(messages, ctx);
        return;
      } catch (err) {
        const kind = classify(err);
        if (kind === 'never') throw err;
        if (kind === 'bounded' && attempt >= options.maxAttempts) throw exhausted(err, attempt, messages);
        const delayMs = fullJitterDelay(Math.min(attempt, 30), options.baseMs, options.maxMs, options.random);
        options.onRetry?.(err, attempt, delayMs, kind, ctx.topic);
        try {
          await sleep(delayMs, undefined, { signal: ctx.signal });
          await ctx.heartbeat();
        } catch {
          throw err;
        }
        if (!ctx.owned()) throw err;
      }
    }
  };
}

function exhausted(err: unknown, attempts: number, messages: Parameters<ReturnType<Middleware>>[0]): Error {
  const record = failedRecord(err) ?? (messages.length === 1 ? messages[0]!.record : undefined);
  const message = `${attempts} attempts failed; last: ${errorMessage(err)}`;
  if (record) {
    const e = new RecordError('retries_exhausted', message, record, { cause: err });
    Object.assign(e.details, { attempts });
    return e;
  }
  return new SluiceError('retries_exhausted', message, { cause: err, details: { attempts } });
}
