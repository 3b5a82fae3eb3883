import { purgeStatements, PurgeSpecError, type PurgeSpec } from './purge-spec';

const sagas: PurgeSpec = {
  table: 'payment_sagas',
  timeColumn: 'finished_at',
  finished: "state = 'completed'",
  windowMs: 30 * 86_400_000,
};

describe('purgeStatements', () => {
  it('selects the oldest finished rows past the window, locked and skipped when held, and deletes them by ctid', () => {
    expect(purgeStatements(sagas).deleteBatch).toBe(
      'DELETE FROM "payment_sagas" WHERE ctid = ANY(ARRAY(SELECT ctid FROM "payment_sagas" ' +
        `WHERE "finished_at" < now() - make_interval(secs => $1::float8 / 1000) AND (state = 'completed') ` +
        'ORDER BY "finished_at" LIMIT $2 FOR UPDATE SKIP LOCKED))',
    );
  });

  it('reads the age of the oldest finished row, old enough or not', () => {
    expect(purgeStatements(sagas).oldestAgeSeconds).toBe(
      `SELECT EXTRACT(EPOCH FROM now() - min("finished_at"))::float8 AS age FROM "payment_sagas" WHERE state = 'completed'`,
    );
  });

  it('without a finished condition, every row old enough goes', () => {
    const sql = purgeStatements({ table: 'public.idempotency_keys', timeColumn: 'created_at', windowMs: 1 });
    expect(sql.deleteBatch).toContain(
      'FROM "public"."idempotency_keys" WHERE "created_at" < now() - make_interval(secs => $1::float8 / 1000) ORDER BY',
    );
    expect(sql.oldestAgeSeconds).not.toContain('WHERE');
    expect(sql.lockName).toBe('sluice.purge.public.idempotency_keys');
  });

  it.each([
    ['a table name that is not an identifier', { ...sagas, table: 'sagas; DROP TABLE x' }],
    ['a quoted schema', { ...sagas, table: '"a".b' }],
    ['a time column that is not an identifier', { ...sagas, timeColumn: 'finished_at DESC' }],
    ['a window of zero', { ...sagas, windowMs: 0 }],
    ['a fractional window', { ...sagas, windowMs: 1.5 }],
    ['two statements as the condition', { ...sagas, finished: 'true; DELETE FROM x' }],
    ['an empty condition', { ...sagas, finished: ' ' }],
  ])('refuses %s', (_what, spec) => {
    expect(() => purgeStatements(spec)).toThrow(PurgeSpecError);
  });
});
