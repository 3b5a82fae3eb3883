import { ResilienceError } from '@sluice/resilience';
import { ProblemError, problems } from './problem';

/** RateLimit header fields (draft-ietf-httpapi-ratelimit-headers): the policy, what is left, when it refills. */
export function rateLimitHeaders(limit: number, windowSec: number, remaining: number, resetSec: number): Record<string, string> {
  return {
    'ratelimit-policy': `${limit};w=${windowSec}`,
    'ratelimit-limit': String(limit),
    'ratelimit-remaining': String(remaining),
    'ratelimit-reset': String(resetSec),
  };
}

/** A refusal by a resilience stage as problem+json, always with Retry-After. */
export function resilienceProblem(err: unknown): ProblemError {
  if (!(err instanceof ResilienceError)) return problems.internal();
  const retryAfter = String(err.retryAfterSec);
  const extensions = { retryAfterMs: err.retryAfterMs };
  switch (err.code) {
    case 'rate_limited': {
      const d = err.details as { limit?: number; windowSec?: number; resetSec?: number };
      return new ProblemError(429, 'rate_limited', 'Too many requests', err.message, extensions, {
        'retry-after': retryAfter,
        ...rateLimitHeaders(d.limit ?? 0, d.windowSec ?? 1, 0, d.resetSec ?? err.retryAfterSec),
      });
    }
    case 'overloaded':
      return new ProblemError(503, 'overloaded', 'Service overloaded', err.message, extensions, { 'retry-after': retryAfter });
    case 'load_shed':
      return new ProblemError(503, 'load_shed', 'Writes paused', err.message, extensions, { 'retry-after': retryAfter });
    case 'deadline_exceeded':
      return new ProblemError(503, 'deadline_exceeded', 'Request took too long', err.message, extensions, {
        'retry-after': retryAfter,
      });
    default: {
      const never: never = err.code;
      throw new Error(`unhandled resilience code ${String(never)}`);
    }
  }
}
