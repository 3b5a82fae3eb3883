import { errorMessage, SluiceError } from '@sluice/core';
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

/** SQLSTATE classes that mean "this data" rather than "this database". */
const RECORD_CLASSES = new Set(['22', '23', '2F', 'P0']);

function sqlState(err: unknown): string | undefined {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 4; e = e.cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) return code;
  }
  return undefined;
}

export function blame(err: unknown): Blame {
  if (err instanceof SluiceError) return err.retriable ? 'systemic' : 'record';
  const state = sqlState(err);
  if (state !== undefined) return RECORD_CLASSES.has(state.slice(0, 2)) ? 'record' : 'systemic';
  const nodeCode = (err as { code?: unknown } | undefined)?.code;
  if (typeof nodeCode === 'string' && /^E[A-Z]+$/.test(nodeCode)) return 'systemic'; // ECONNRESET, ETIMEDOUT, ...
  if (/connection|terminated|timeout|pool/i.test(errorMessage(err))) return 'systemic';
  // A TypeError or RangeError thrown by a fold: code meeting data it does not expect.
  return 'record';
}

/** The closed-set code a dead letter carries for a thrown error. */
export function errorCode(err: unknown): string {
  if (err instanceof SluiceError) return (err as SluiceError<string>).code;
  const state = sqlState(err);
  if (state !== undefined) return `pg_${state}`;
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
