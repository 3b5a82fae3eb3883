import { SluiceError } from '@sluice/core';

/**
 * What a failed database call means, from what the error carries: its SQLSTATE
 * (https://www.postgresql.org/docs/current/errcodes-appendix.html), a Node
 * socket error code, or one of node-postgres's own connection errors.
 */
export type PgFailureCode =
  /** 40001: the transaction lost a serializable conflict; run it again. */
  | 'serialization_failure'
  /** 40P01: the server aborted this transaction to break a deadlock; run it again. */
  | 'deadlock'
  /** Any other class 40 (transaction rollback): run it again. */
  | 'transaction_rollback'
  /** 23505: the row is there already. */
  | 'unique_violation'
  /** Any other class 23 (foreign key, check, not null, exclusion). */
  | 'integrity_violation'
  /** Class 22: a value the column or the function refuses. */
  | 'invalid_data'
  /** Classes 2F, 38, 39 and P0: raised by a function or trigger (RAISE EXCEPTION). */
  | 'routine_exception'
  /** 57014: statement_timeout or a cancel request. */
  | 'query_canceled'
  /** 55P03: lock_timeout or NOWAIT. */
  | 'lock_not_available'
  /** 25P03: the server closed a transaction left idle too long. */
  | 'idle_in_transaction_timeout'
  /** 25P02: an earlier statement of this transaction failed; that one says why. */
  | 'transaction_aborted'
  /** 57P01–57P05: the server is shutting down, starting up, or dropped the database or session. */
  | 'server_unavailable'
  /** Class 08, a socket error, or node-postgres losing its connection. */
  | 'connection_failure'
  /** No connection from the pool, or no connection made, within the pool's connection timeout. */
  | 'connect_timeout'
  /** Class 53: too many connections, out of memory or disk. */
  | 'insufficient_resources'
  /**
   * 0A000 raised while revalidating a cached plan ("cached plan must not change result type": a
   * table changed shape under a prepared statement), or 26000 (the connection lost the statement).
   */
  | 'stale_prepared_statement'
  /** Any other SQLSTATE: the statement, the schema or the privileges are wrong. */
  | 'sql_error';

const RETRIABLE: ReadonlySet<PgFailureCode> = new Set<PgFailureCode>([
  'serialization_failure',
  'deadlock',
  'transaction_rollback',
  'query_canceled',
  'lock_not_available',
  'idle_in_transaction_timeout',
  'server_unavailable',
  'connection_failure',
  'connect_timeout',
  'insufficient_resources',
  'stale_prepared_statement',
]);

/** A classified database failure: `cause` is the error the driver threw. */
export class PgError extends SluiceError<PgFailureCode> {
  /** The SQLSTATE, when the server answered with one. */
  readonly sqlState: string | undefined;

  constructor(code: PgFailureCode, cause: unknown, sqlState: string | undefined) {
    super(code, `database: ${code}${sqlState ? ` (SQLSTATE ${sqlState})` : ''}`, {
      cause,
      retriable: RETRIABLE.has(code),
      ...(sqlState !== undefined && { details: { sqlState } }),
    });
    this.sqlState = sqlState;
  }
}

const SQLSTATE = /^[0-9A-Z]{5}$/;
/** Node's system errors (ECONNRESET, ETIMEDOUT, EAI_AGAIN, ...) on the way to the server. */
const SYSTEM_ERROR = /^E[A-Z_]+$/;

/**
 * node-postgres and pg-pool raise their own connection failures as plain Errors with neither a
 * SQLSTATE nor a system code, so these texts (node-postgres 8, pg-pool 3) are the only way to
 * tell them. They are matched here and nowhere else; everything else is decided by its code.
 */
const DRIVER_FAILURES: ReadonlyArray<readonly [string, PgFailureCode]> = [
  ['timeout exceeded when trying to connect', 'connect_timeout'],
  ['Connection terminated due to connection timeout', 'connect_timeout'],
  ['Connection terminated', 'connection_failure'],
  ['Client has encountered a connection error and is not queryable', 'connection_failure'],
];

function bySqlState(state: string, routine: unknown): PgFailureCode {
  switch (state) {
    case '40001':
      return 'serialization_failure';
    case '40P01':
      return 'deadlock';
    case '23505':
      return 'unique_violation';
    case '57014':
      return 'query_canceled';
    case '55P03':
      return 'lock_not_available';
    case '25P03':
      return 'idle_in_transaction_timeout';
    case '25P02':
      return 'transaction_aborted';
    case '26000':
      return 'stale_prepared_statement';
    case '0A000':
      // The server's routine, not its (translatable) message, says a cached plan went stale.
      return routine === 'RevalidateCachedQuery' ? 'stale_prepared_statement' : 'sql_error';
  }
  switch (state.slice(0, 2)) {
    case '40':
      return 'transaction_rollback';
    case '23':
      return 'integrity_violation';
    case '22':
      return 'invalid_data';
    case '2F':
    case '38':
    case '39':
    case 'P0':
      return 'routine_exception';
    case '57':
      return state.startsWith('57P') ? 'server_unavailable' : 'sql_error';
    case '08':
      return 'connection_failure';
    case '53':
      return 'insufficient_resources';
    default:
      return 'sql_error';
  }
}

function classifyOne(e: Error): PgError | undefined {
  if (e instanceof PgError) return e;
  const { code, routine } = e as { code?: unknown; routine?: unknown };
  if (typeof code === 'string' && SQLSTATE.test(code)) return new PgError(bySqlState(code, routine), e, code);
  if (typeof code === 'string' && SYSTEM_ERROR.test(code)) return new PgError('connection_failure', e, undefined);
  if (code === undefined && e.constructor === Error) {
    const driver = DRIVER_FAILURES.find(([text]) => e.message.startsWith(text));
    if (driver) return new PgError(driver[1], e, undefined);
  }
  return undefined;
}

/**
 * The classification of a failed database call, looking through its cause chain;
 * undefined when nothing in it came from PostgreSQL or the connection to it (a
 * bug, a domain refusal). Retry, circuit and blame decisions read `code` and
 * `retriable`, never the message.
 */
export function classifyPgError(err: unknown): PgError | undefined {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 8; e = e.cause, depth++) {
    const classified = classifyOne(e);
    if (classified) return classified;
  }
  return undefined;
}
