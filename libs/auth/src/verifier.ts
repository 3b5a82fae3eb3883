import { readFileSync } from 'node:fs';
import { createLocalJWKSet, createRemoteJWKSet, errors, jwtVerify, type JWTVerifyGetKey } from 'jose';
import { AuthError, type Principal } from './principal';
import { parseScopes } from './scopes';
import { VerifiedTokens } from './verified-tokens';

/** Asymmetric signatures only: `none` and the HMAC algorithms (a shared secret) are never accepted. */
export const ALLOWED_ALGORITHMS = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
] as const;

export type JwksSource = { url: string } | { file: string };

export interface VerifierOptions {
  issuer: string;
  audience: string;
  jwks: JwksSource;
  /** Tolerance on exp and nbf for clocks that disagree, seconds. */
  clockSkewSec: number;
  algorithms: readonly string[];
  /** A remote key set is fetched again for an unknown key id at most this often (default 30 s). */
  jwksCooldownMs?: number;
  /** Verified tokens remembered (none when unset or 0: every request checks its signature) and for how long at most. */
  cache?: { maxEntries: number; ttlMs: number };
}

// RFC 9068 §2.1: `at+jwt` (or its full media type); a plain JWT (`JWT` or no typ) is accepted too.
const ACCEPTED_TYP = new Set(['at+jwt', 'application/at+jwt', 'jwt', 'application/jwt']);
const SUBJECT = /^[\x21-\x7e]{1,255}$/;

/**
 * Verifies OAuth 2.0 bearer access tokens (RFC 9068 JWTs) against the
 * issuer's key set: signature with an allowed algorithm, issuer, audience,
 * expiry and not-before within the clock skew. The key set is read once (a
 * file) or fetched and cached by jose (a URL: refetched only when a token
 * names a key it has not seen, at most once per cooldown), so a
 * verification on the hot path is one signature check, and none for a token
 * it verified within the cache's ttl (VerifiedTokens).
 */
export class TokenVerifier {
  /** Tokens that passed, so a client's next requests with the same token skip the signature check. */
  readonly verified: VerifiedTokens;

  private constructor(
    private readonly keys: JWTVerifyGetKey,
    private readonly options: VerifierOptions,
  ) {
    this.verified = new VerifiedTokens(options.cache ?? { maxEntries: 0, ttlMs: 0 });
  }

  static create(options: VerifierOptions): TokenVerifier {
    for (const alg of options.algorithms) {
      if (!(ALLOWED_ALGORITHMS as readonly string[]).includes(alg)) throw new RangeError(`algorithm ${alg} is not allowed`);
    }
    const keys =
      'url' in options.jwks
        ? createRemoteJWKSet(new URL(options.jwks.url), {
            cooldownDuration: options.jwksCooldownMs ?? 30_000,
            cacheMaxAge: 10 * 60_000,
          })
        : createLocalJWKSet(JSON.parse(readFileSync(options.jwks.file, 'utf8')) as Parameters<typeof createLocalJWKSet>[0]);
    return new TokenVerifier(keys, options);
  }

  async verify(token: string): Promise<Principal> {
    const known = this.verified.get(token);
    if (known) return known;
    let payload;
    try {
      ({ payload } = await jwtVerify(token, this.keys, {
        issuer: this.options.issuer,
        audience: this.options.audience,
        algorithms: [...this.options.algorithms],
        clockTolerance: this.options.clockSkewSec,
        requiredClaims: ['exp'],
      }).then((r) => {
        const typ = r.protectedHeader.typ;
        if (typ !== undefined && !ACCEPTED_TYP.has(typ.toLowerCase())) {
          throw new AuthError('token_invalid', `token type ${typ} is not an access token`);
        }
        return r;
      }));
    } catch (err) {
      if (err instanceof AuthError) throw err;
      if (err instanceof errors.JWKSTimeout || err instanceof errors.JWKSInvalid || !(err instanceof errors.JOSEError)) {
        // The issuer's key set could not be had: the token may be fine; the caller may retry.
        throw new AuthError('issuer_unavailable', 'the issuer key set could not be fetched', undefined, err);
      }
      throw new AuthError('token_invalid', describe(err), undefined, err);
    }
    const subject = payload.sub ?? (payload as { client_id?: unknown }).client_id;
    if (typeof subject !== 'string' || !SUBJECT.test(subject)) {
      throw new AuthError('token_invalid', 'the token names no subject (sub or client_id)');
    }
    const principal = { subject, scopes: parseScopes(payload as { scope?: unknown; scp?: unknown }) };
    this.verified.remember(token, principal, (payload.exp as number) * 1_000);
    return principal;
  }
}

/** What a client may be told about a refused token: the kind of failure, not the key material. */
function describe(err: unknown): string {
  if (err instanceof errors.JWTExpired) return 'the token expired';
  if (err instanceof errors.JWTClaimValidationFailed) {
    if (err.claim === 'nbf') return 'the token is not valid yet';
    if (err.claim === 'iss') return 'the token is from another issuer';
    if (err.claim === 'aud') return 'the token is for another audience';
    return `the token's ${err.claim} claim is invalid`;
  }
  if (err instanceof errors.JOSEAlgNotAllowed) return 'the token is signed with an algorithm not allowed here';
  if (err instanceof errors.JWKSNoMatchingKey) return 'the token is signed by an unknown key';
  if (err instanceof errors.JWSSignatureVerificationFailed) return 'the token signature is invalid';
  return 'the token is malformed';
}
