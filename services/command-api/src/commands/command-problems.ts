import { classifyPgError, TransactionTimeout, type PgFailureCode } from '@sluice/db';
import { ProblemError, problems } from '@sluice/http';
import { deadlineExceeded } from '@sluice/resilience';
import { WalletError, type WalletErrorCode } from '@sluice/wallet-domain';
import { VersionConflict } from './wallet-save';

export const WALLET_ERROR_STATUS: Record<WalletErrorCode, number> = {
  wallet_not_found: 404,
  wallet_already_exists: 409,
  unsupported_currency: 422,
  currency_mismatch: 422,
  invalid_amount: 400,
  balance_limit_exceeded: 422,
  insufficient_funds: 422,
  withdrawal_not_found: 404,
  withdrawal_already_exists: 409,
  withdrawal_not_pending: 409,
};

/**
 * The database's "not now" answers: statement timeout, lock timeout, idle-in-transaction timeout,
 * out of connections or resources, no pooled connection in time.
 */
const PG_TOO_SLOW: ReadonlySet<PgFailureCode> = new Set<PgFailureCode>([
  'query_canceled',
  'lock_not_available',
  'idle_in_transaction_timeout',
  'insufficient_resources',
  'connect_timeout',
]);

/** Failures that mean the database is congested: they shrink the admission limit. */
export function isDatabaseCongestion(err: unknown): boolean {
  if (err instanceof TransactionTimeout) return true;
  const failure = classifyPgError(err);
  return failure !== undefined && PG_TOO_SLOW.has(failure.code);
}

/** The HTTP answer for a refused or failed command. */
export function toProblem(err: unknown): unknown {
  if (err instanceof ProblemError) return err;
  if (err instanceof WalletError) {
    const status = WALLET_ERROR_STATUS[err.code];
    return new ProblemError(status, err.code, err.code.replace(/_/g, ' '), err.message, err.details);
  }
  if (err instanceof VersionConflict) {
    return problems.conflict('version_conflict', `${err.message}; retry the request`);
  }
  if (isDatabaseCongestion(err)) return deadlineExceeded('in the database');
  return err;
}
