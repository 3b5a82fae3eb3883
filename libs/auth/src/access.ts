import { AuthError, type Principal } from './principal';
import { SCOPES } from './scopes';

/**
 * Whether the principal may read what a wallet owned by `owner` holds (the
 * wallet, its transactions, its withdrawals): wallets:read:any reads every
 * wallet, wallets:read only the caller's own. A wallet without a recorded
 * owner is readable only with wallets:read:any. Callers answer 404 when not,
 * exactly as for what does not exist, so nothing leaks.
 */
export function canRead(principal: Principal, owner: string | null | undefined): boolean {
  if (principal.scopes.has(SCOPES.walletsReadAny)) return true;
  return principal.scopes.has(SCOPES.walletsRead) && typeof owner === 'string' && owner === principal.subject;
}

/** A read needs one of the read scopes at all (else 403); which wallets it sees, canRead decides. */
export function requireReadScope(principal: Principal): void {
  if (!principal.scopes.has(SCOPES.walletsRead) && !principal.scopes.has(SCOPES.walletsReadAny)) {
    throw new AuthError('insufficient_scope', `this request needs the ${SCOPES.walletsRead} scope`, SCOPES.walletsRead);
  }
}
