import { SluiceError } from '@sluice/core';

/** Who a request acts for, as its verified access token says. */
export interface Principal {
  /** The token's `sub`, or its `client_id` for a client-credentials token without one. */
  readonly subject: string;
  readonly scopes: ReadonlySet<string>;
}

export function hasScope(principal: Principal, scope: string): boolean {
  return principal.scopes.has(scope);
}

export type AuthErrorCode =
  | 'token_missing'
  | 'token_invalid'
  | 'insufficient_scope'
  | 'origin_not_allowed'
  | 'issuer_unavailable';

/**
 * A refused request. `token_missing` and `token_invalid` are 401s,
 * `insufficient_scope` and `origin_not_allowed` 403s; none is retriable with
 * the same credentials. `issuer_unavailable` (the key set could not be
 * fetched) is a 503 and retriable.
 */
export class AuthError extends SluiceError<AuthErrorCode> {
  constructor(
    code: AuthErrorCode,
    message: string,
    /** insufficient_scope: the scope the request needed. */
    readonly scope?: string,
    cause?: unknown,
  ) {
    super(code, message, { cause, retriable: code === 'issuer_unavailable' });
  }
}

export function requireScope(principal: Principal, scope: string): void {
  if (!principal.scopes.has(scope)) throw new AuthError('insufficient_scope', `this request needs the ${scope} scope`, scope);
}
