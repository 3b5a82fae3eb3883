import { SluiceError } from '@sluice/core';
import { backoffMs, blame, errorCode } from './failures';

const pgError = (code: string) => Object.assign(new Error(`pg ${code}`), { code });

describe('failure blame', () => {
  it.each([
    ['a unique violation', pgError('23505')],
    ['a check violation', pgError('23514')],
    ['a numeric overflow', pgError('22003')],
    ['a TypeError from a fold', new TypeError("Cannot read properties of undefined (reading 'amount')")],
    // Regression: blame was read from the message text, and this fold's bug was retried for ever as the database's.
    ['a TypeError whose text names a connection', new TypeError("Cannot read properties of undefined (reading 'connection')")],
    ['a non-retriable SluiceError', new SluiceError('schema_violation', 'bad')],
  ])('given %s, then the records are to blame', (_, err) => {
    expect(blame(err)).toBe('record');
  });

  it.each([
    ['a serialization failure', pgError('40001')],
    ['a deadlock', pgError('40P01')],
    ['a statement timeout', pgError('57014')],
    ['an administrator shutdown', pgError('57P01')],
    ['a missing table', pgError('42P01')],
    ['a refused connection', Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' })],
    ['a connection ended by the server', new Error('Connection terminated unexpectedly')],
    ['a transaction aborted by an earlier failure', pgError('25P02')],
    ['a retriable SluiceError', new SluiceError('registry_unavailable', 'down', { retriable: true })],
  ])('given %s, then the system is to blame and nothing gets parked for it', (_, err) => {
    expect(blame(err)).toBe('systemic');
  });

  it('names a dead letter after the SluiceError code or the SQLSTATE', () => {
    expect(errorCode(new SluiceError('schema_violation', 'x'))).toBe('schema_violation');
    expect(errorCode(pgError('23505'))).toBe('pg_23505');
    expect(errorCode(new TypeError('x'))).toBe('projection_error');
  });
});

describe('backoff with jitter', () => {
  const policy = { baseMs: 100, maxMs: 2_000 };

  it('is the full-jitter backoff: uniform below min(maxMs, baseMs·2^(n−1))', () => {
    expect(backoffMs(1, policy, () => 0)).toBe(0);
    expect(backoffMs(1, policy, () => 0.999)).toBe(99);
    expect(backoffMs(3, policy, () => 0.999)).toBe(399);
  });

  it('never waits longer than the cap', () => {
    expect(backoffMs(30, policy, () => 0.999)).toBeLessThan(2_000);
  });

  it('spreads replicas that fail together', () => {
    const delays = new Set(Array.from({ length: 50 }, () => backoffMs(4, policy)));
    expect(delays.size).toBeGreaterThan(10);
  });
});
