/** The scopes Sluice's endpoints ask for (RFC 6749 §3.3 scope tokens). */
export const SCOPES = {
  /** Open wallets, owned by the caller. */
  walletsOpen: 'wallets:open',
  /** Read the caller's own wallets, their transactions and withdrawals. */
  walletsRead: 'wallets:read',
  /** Read any wallet (support). */
  walletsReadAny: 'wallets:read:any',
  /** Request withdrawals from the caller's own wallets. */
  withdrawalsRequest: 'withdrawals:request',
  /** Deposit into any wallet (a funding service, not a customer). */
  fundsDeposit: 'funds:deposit',
} as const;

export type Scope = (typeof SCOPES)[keyof typeof SCOPES];

// RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
const SCOPE_TOKEN = /^[\x21\x23-\x5b\x5d-\x7e]+$/;

/**
 * The scopes a token grants: its `scope` claim (RFC 9068 §2.2.3, a
 * space-separated string), or an `scp` array as some providers write it.
 * Anything else grants nothing; malformed tokens in the list are ignored.
 */
export function parseScopes(claims: { scope?: unknown; scp?: unknown }): ReadonlySet<string> {
  const raw: unknown[] =
    typeof claims.scope === 'string' ? claims.scope.split(' ') : Array.isArray(claims.scp) ? (claims.scp as unknown[]) : [];
  const scopes = new Set<string>();
  for (const s of raw) if (typeof s === 'string' && SCOPE_TOKEN.test(s)) scopes.add(s);
  return scopes;
}
