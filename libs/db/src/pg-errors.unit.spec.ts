import { SluiceError } from '@sluice/core';
import { classifyPgError, PgError, type PgFailureCode } from './pg-errors';

/** What node-postgres throws for a server error: a DatabaseError with the SQLSTATE in `code`. */
const serverError = (code: string, routine?: string) =>
  Object.assign(new Error(`server says ${code}`), { code, ...(routine !== undefined && { routine }) });

describe('classifyPgError', () => {
  it.each<[string, string, PgFailureCode, boolean]>([
    ['a serialization failure', '40001', 'serialization_failure', true],
    ['a deadlock', '40P01', 'deadlock', true],
    ['another transaction rollback', '40002', 'transaction_rollback', true],
    ['a unique violation', '23505', 'unique_violation', false],
    ['a check violation', '23514', 'integrity_violation', false],
    ['a numeric overflow', '22003', 'invalid_data', false],
    ['a RAISE EXCEPTION', 'P0001', 'routine_exception', false],
    ['a statement timeout', '57014', 'query_canceled', true],
    ['an administrator shutdown', '57P01', 'server_unavailable', true],
    ['a server starting up', '57P03', 'server_unavailable', true],
    ['a lock timeout', '55P03', 'lock_not_available', true],
    ['an idle-in-transaction timeout', '25P03', 'idle_in_transaction_timeout', true],
    ['a statement in an aborted transaction', '25P02', 'transaction_aborted', false],
    ['a lost connection', '08006', 'connection_failure', true],
    ['too many connections', '53300', 'insufficient_resources', true],
    ['a disk full', '53100', 'insufficient_resources', true],
    ['a prepared statement the connection lost', '26000', 'stale_prepared_statement', true],
    ['a missing table', '42P01', 'sql_error', false],
    ['a syntax error', '42601', 'sql_error', false],
  ])('given %s (%s), then %s, retriable %s', (_, state, code, retriable) => {
    const classified = classifyPgError(serverError(state));
    expect(classified).toBeInstanceOf(PgError);
    expect(classified).toMatchObject({ code, retriable, sqlState: state });
  });

  it('tells a stale cached plan from another unsupported feature by the server routine, not the message', () => {
    expect(classifyPgError(serverError('0A000', 'RevalidateCachedQuery'))?.code).toBe('stale_prepared_statement');
    expect(classifyPgError(serverError('0A000', 'transformLockingClause'))?.code).toBe('sql_error');
  });

  it('reads a socket error code as a connection failure', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
    expect(classifyPgError(refused)).toMatchObject({ code: 'connection_failure', retriable: true, sqlState: undefined });
    expect(classifyPgError(Object.assign(new Error('getaddrinfo'), { code: 'EAI_AGAIN' }))?.code).toBe('connection_failure');
  });

  it.each<[string, PgFailureCode]>([
    ['timeout exceeded when trying to connect', 'connect_timeout'],
    ['Connection terminated due to connection timeout', 'connect_timeout'],
    ['Connection terminated unexpectedly', 'connection_failure'],
    ['Connection terminated', 'connection_failure'],
  ])('reads the driver failure "%s" as %s', (message, code) => {
    expect(classifyPgError(new Error(message))).toMatchObject({ code, retriable: true });
  });

  it('finds the database failure under a wrapping error', () => {
    const wrapped = new SluiceError('apply_failed', 'batch failed', { cause: serverError('40P01') });
    expect(classifyPgError(wrapped)).toMatchObject({ code: 'deadlock', retriable: true, cause: wrapped.cause });
  });

  it('returns a PgError it is given as it is', () => {
    const classified = classifyPgError(serverError('40001'))!;
    expect(classifyPgError(classified)).toBe(classified);
  });

  it.each<[string, unknown]>([
    ['a TypeError from a bug', new TypeError('Connection terminated')],
    ['a domain refusal', new SluiceError('insufficient_funds', 'too little')],
    ['an error whose text only looks like the database', new Error('deadlock detected')],
    ['a thrown string', '40001'],
    ['undefined', undefined],
  ])('leaves %s unclassified', (_, err) => {
    expect(classifyPgError(err)).toBeUndefined();
  });
});
