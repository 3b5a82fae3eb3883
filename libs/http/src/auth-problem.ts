import { bearerChallenge, type AuthError } from '@sluice/auth';
import { ProblemError } from './problem';

/**
 * A refused credential as problem+json with its RFC 6750 challenge: 401
 * with the bare realm for a missing token, 401 invalid_token for a refused
 * one, 403 insufficient_scope naming the scope needed, 403 for a browser
 * origin not allowed, 503 when the issuer's key set cannot be fetched.
 */
export function authProblem(err: AuthError, realm: string): ProblemError {
  switch (err.code) {
    case 'token_missing':
      return new ProblemError(
        401,
        'unauthenticated',
        'Authentication required',
        err.message,
        {},
        {
          'www-authenticate': bearerChallenge({ realm }),
        },
      );
    case 'token_invalid':
      return new ProblemError(
        401,
        'invalid_token',
        'Invalid access token',
        err.message,
        {},
        {
          'www-authenticate': bearerChallenge({ realm, error: 'invalid_token', description: err.message }),
        },
      );
    case 'insufficient_scope':
      return new ProblemError(
        403,
        'insufficient_scope',
        'Insufficient scope',
        err.message,
        { scope: err.scope },
        {
          'www-authenticate': bearerChallenge({ realm, error: 'insufficient_scope', scope: err.scope ?? '' }),
        },
      );
    case 'origin_not_allowed':
      return new ProblemError(403, 'origin_not_allowed', 'Origin not allowed', err.message);
    case 'issuer_unavailable':
      return new ProblemError(503, 'issuer_unavailable', 'Service unavailable', err.message, {}, { 'retry-after': '1' });
    default: {
      const never: never = err.code;
      throw new Error(`unhandled auth code ${String(never)}`);
    }
  }
}
