import { AuthError, bearerToken, type Principal, type TokenVerifier } from '@sluice/auth';
import { Counter, Gauge, type Registry } from 'prom-client';

declare module 'fastify' {
  interface FastifyRequest {
    /** Who the request acts for: set by the front door from the verified bearer token (null on open paths). */
    principal: Principal | null;
  }
}

export interface FrontDoorAuth {
  verifier: TokenVerifier;
  /** The realm of WWW-Authenticate challenges. */
  realm: string;
}

export type AuthOutcome = 'authenticated' | 'missing' | 'invalid' | 'issuer_unavailable';

export function authOutcomes(registry: Registry): Counter<'outcome'> {
  const name = 'sluice_auth_requests_total';
  return (
    (registry.getSingleMetric(name) as Counter<'outcome'> | undefined) ??
    new Counter({
      name,
      help: 'Bearer-token checks at the front door by outcome (authenticated, missing, invalid, issuer_unavailable)',
      labelNames: ['outcome'],
      registers: [registry],
    })
  );
}

/**
 * The verified-token cache's size and how often a token was taken from it
 * rather than checked by its signature (the verifier's counts since the last scrape).
 */
export function registerTokenCacheMetrics(registry: Registry, verifier: TokenVerifier): void {
  if (registry.getSingleMetric('sluice_auth_token_cache_entries')) return;
  const tokens = verifier.verified;
  new Gauge({
    name: 'sluice_auth_token_cache_entries',
    help: 'Verified access tokens remembered by the front door (bounded by AUTH_TOKEN_CACHE_SIZE)',
    registers: [registry],
    collect() {
      this.set(tokens.size);
    },
  });
  let counted = { hits: 0, misses: 0 };
  new Counter({
    name: 'sluice_auth_token_checks_total',
    help: 'Bearer tokens the front door took from its cache of verified tokens (cached) or checked by signature (verified)',
    labelNames: ['check'],
    registers: [registry],
    collect() {
      this.inc({ check: 'cached' }, tokens.hits - counted.hits);
      this.inc({ check: 'verified' }, tokens.misses - counted.misses);
      counted = { hits: tokens.hits, misses: tokens.misses };
    },
  });
}

/** The principal of a request's Authorization header, or the AuthError that refuses it. */
export async function authenticate(authorization: unknown, verifier: TokenVerifier): Promise<Principal> {
  const token = bearerToken(authorization);
  if (token === undefined) throw new AuthError('token_missing', 'send an OAuth 2.0 access token: Authorization: Bearer <token>');
  if (token === null) throw new AuthError('token_invalid', 'the Authorization header is not a Bearer token');
  return verifier.verify(token);
}

export function outcomeOf(err: AuthError): AuthOutcome {
  return err.code === 'token_missing' ? 'missing' : err.code === 'issuer_unavailable' ? 'issuer_unavailable' : 'invalid';
}

/** The authenticated principal of a request on a protected path; the front door guarantees one. */
export function principalOf(request: { principal: Principal | null }): Principal {
  if (!request.principal) throw new AuthError('token_missing', 'this endpoint needs an access token');
  return request.principal;
}
