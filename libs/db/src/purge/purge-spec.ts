import { quoteIdent } from '../database';

/**
 * One table's retention: rows whose time column is older than the window,
 * and that meet `finished`, may be deleted. Everything here comes from code
 * and configuration, never from a request.
 */
export interface PurgeSpec {
  /** `name` or `schema.name`, plain lower-case identifiers. */
  table: string;
  /**
   * The timestamptz column a row's age counts from. An index on it (partial
   * on `finished`, where given) keeps each batch's scan to the rows it deletes.
   */
  timeColumn: string;
  /**
   * The SQL condition a row must meet before it may go (a finished saga, a
   * resolved record); absent, every row old enough goes. Written exactly as
   * the partial index's predicate, so the planner can use that index.
   */
  finished?: string;
  /** Rows are kept at least this long after their time column. */
  windowMs: number;
}

/** The statements of one table's purge. $1 is the window in milliseconds; $2 the batch's row count. */
export interface PurgeStatements {
  /** Names the advisory lock that lets one replica at a time purge this table. */
  lockName: string;
  /**
   * Deletes at most $2 expired rows, oldest first, skipping rows another
   * transaction holds: the purge never waits for the hot path's row locks,
   * and the hot path waits at most one batch for the purge's.
   */
  deleteBatch: string;
  /** The age in seconds of the oldest row that meets `finished` (null when there is none). */
  oldestAgeSeconds: string;
}

const IDENT = /^[a-z_][a-z0-9_]*$/;

export class PurgeSpecError extends Error {
  readonly code = 'invalid_purge_spec';
}

export function checkPurgeSpec(spec: PurgeSpec): void {
  const parts = spec.table.split('.');
  if (parts.length > 2 || !parts.every((p) => IDENT.test(p)))
    throw new PurgeSpecError(`purge of "${spec.table}": the table must be name or schema.name in lower-case identifiers`);
  if (!IDENT.test(spec.timeColumn))
    throw new PurgeSpecError(`purge of ${spec.table}: the time column "${spec.timeColumn}" is not a lower-case identifier`);
  if (!Number.isSafeInteger(spec.windowMs) || spec.windowMs <= 0)
    throw new PurgeSpecError(
      `purge of ${spec.table}: the window must be a positive number of milliseconds, got ${spec.windowMs}`,
    );
  if (spec.finished !== undefined && (spec.finished.trim() === '' || spec.finished.includes(';')))
    throw new PurgeSpecError(`purge of ${spec.table}: the "finished" condition must be one non-empty SQL expression`);
}

export function purgeStatements(spec: PurgeSpec): PurgeStatements {
  checkPurgeSpec(spec);
  const table = spec.table.split('.').map(quoteIdent).join('.');
  const time = quoteIdent(spec.timeColumn);
  const finished = spec.finished === undefined ? '' : ` AND (${spec.finished})`;
  return {
    lockName: `sluice.purge.${spec.table}`,
    // ctid = ANY(ARRAY(...)) runs the locking sub-select once, then deletes by a TID scan: no join
    // the planner could turn into a scan of the whole table. Ordered by the time column, the
    // sub-select walks its index and stops after $2 rows however large the backlog.
    deleteBatch:
      `DELETE FROM ${table} WHERE ctid = ANY(ARRAY(` +
      `SELECT ctid FROM ${table} WHERE ${time} < now() - make_interval(secs => $1::float8 / 1000)${finished} ` +
      `ORDER BY ${time} LIMIT $2 FOR UPDATE SKIP LOCKED))`,
    oldestAgeSeconds:
      `SELECT EXTRACT(EPOCH FROM now() - min(${time}))::float8 AS age FROM ${table}` +
      (spec.finished === undefined ? '' : ` WHERE ${spec.finished}`),
  };
}
