import { TransactionTimeout } from '@sluice/db';
import { ProblemError } from '@sluice/http';
import { ResilienceError } from '@sluice/resilience';
import { WalletError } from '@sluice/wallet-domain';
import { isDatabaseCongestion, toProblem } from './command-problems';
import { VersionConflict } from './wallet-save';

const WALLET = '0190a000-0000-7000-8000-000000000001';

describe('how a failed command is answered', () => {
  it.each<[string, unknown, number, string]>([
    ['an unknown wallet', new WalletError('wallet_not_found', 'no wallet'), 404, 'wallet_not_found'],
    [
      'insufficient funds',
      new WalletError('insufficient_funds', 'too little', { details: { available: 3 } }),
      422,
      'insufficient_funds',
    ],
    ['another currency', new WalletError('currency_mismatch', 'EUR only'), 422, 'currency_mismatch'],
    ['a withdrawal no longer pending', new WalletError('withdrawal_not_pending', 'done'), 409, 'withdrawal_not_pending'],
    ['a version conflict after the retries', new VersionConflict(WALLET), 409, 'version_conflict'],
  ])('%s → %i %s', (_label, err, status, code) => {
    const problem = toProblem(err);
    expect(problem).toBeInstanceOf(ProblemError);
    expect(problem).toMatchObject({ status, code });
  });

  it('carries the refusal details into the problem (the available amount of an insufficient-funds refusal)', () => {
    const problem = toProblem(new WalletError('insufficient_funds', 'too little', { details: { available: 3 } })) as ProblemError;
    expect(problem.toProblem()).toMatchObject({ code: 'insufficient_funds', available: 3 });
  });

  it.each<[string, unknown]>([
    ['a transaction past its deadline', new TransactionTimeout(120)],
    ['a statement timeout', Object.assign(new Error('canceling statement due to statement timeout'), { code: '57014' })],
    ['an idle-in-transaction timeout', Object.assign(new Error('terminating connection'), { code: '25P03' })],
    ['no free connection slot', Object.assign(new Error('too many connections'), { code: '53300' })],
    ['a lock timeout', Object.assign(new Error('canceling statement due to lock timeout'), { code: '55P03' })],
    ['no pooled connection in time', new Error('timeout exceeded when trying to connect')],
  ])('%s is congestion, answered 503 deadline_exceeded with a retry hint', (_label, err) => {
    expect(isDatabaseCongestion(err)).toBe(true);
    const answer = toProblem(err);
    expect(answer).toBeInstanceOf(ResilienceError);
    expect(answer).toMatchObject({ code: 'deadline_exceeded', retriable: true });
  });

  it('leaves other failures alone (they become 500 internal_error and are logged)', () => {
    const bug = new TypeError('x is undefined');
    expect(toProblem(bug)).toBe(bug);
    expect(isDatabaseCongestion(bug)).toBe(false);
  });

  it('does not read a serialization failure or a constraint as congestion', () => {
    expect(isDatabaseCongestion(Object.assign(new Error('could not serialize access'), { code: '40001' }))).toBe(false);
    expect(isDatabaseCongestion(Object.assign(new Error('duplicate key'), { code: '23505' }))).toBe(false);
  });
});
