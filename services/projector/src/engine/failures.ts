import { SluiceError } from '@sluice/core';
import { classifyPgError, PgError, type PgFailureCode } from '@sluice/db';
import { fullJitterDelay } from '@sluice/resilience';

/**
 * Who is to blame for a failed apply. `systemic`: the database or the network
 * (connection lost, serialization failure, lock or statement timeout, a table
 * missing): retried for as long as it takes and never parked, since every
 * record would fail the same way. `record`: something about the events (a
 * constraint, bad data, a bug the data triggers): retried a bounded number of
 * times, then the failing record is isolated and parked.
 */
export type Blame = 'systemic' | 'record';

/**
 * Database failures that blame the data: a value refused, a constraint, a function raising.
 * Every other database failure (connection lost, serialization failure, lock or statement
 * timeout, a table missing) blames the system.
 */
const RECORD_FAILURES: ReadonlySet<PgFailureCode> = new Set<PgFailureCode>([
  'unique_violation',
  'integrity_violation',
  'invalid_data',
  'routine_exception',
]);

export function blame(err: unknown): Blame {
  if (err instanceof SluiceError && !(err instanceof PgError)) return err.retriable ? 'systemic' : 'record';
  const failure = classifyPgError(err);
  if (failure !== undefined) return RECORD_FAILURES.has(failure.code) ? 'record' : 'systemic';
  // A TypeError or RangeError thrown by a fold: code meeting data it does not expect.
  return 'record';
}

/** The closed-set code a dead letter carries for a thrown error. */
export function errorCode(err: unknown): string {
  if (err instanceof SluiceError && !(err instanceof PgError)) return (err as SluiceError<string>).code;
  const sqlState = classifyPgError(err)?.sqlState;
  if (sqlState !== undefined) return `pg_${sqlState}`;
  return 'projection_error';
}

export interface BackoffPolicy {
  readonly baseMs: number;
  readonly maxMs: number;
}

/** The platform's one backoff (full jitter, libs/resilience) under a projector policy. */
export function backoffMs(attempt: number, policy: BackoffPolicy, random: () => number = Math.random): number {
  return fullJitterDelay(Math.min(attempt, 30), policy.baseMs, policy.maxMs, random);
}
