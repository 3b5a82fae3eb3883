import { commonEnv, env, z } from '@sluice/config';
import { ALLOWED_ALGORITHMS, type VerifierOptions } from './verifier';

/**
 * Settings of a service that authenticates bearer tokens. SLUICE_ENV names
 * where the process runs: anything but `development` is production, where
 * the issuer, the audience and a key-set source must be given. In
 * development they default to the local dev issuer that `make up` creates
 * (its key set is public, not a secret).
 */
export const authEnv = {
  SLUICE_ENV: commonEnv.SLUICE_ENV,
  AUTH_ISSUER: z.string().min(1).optional(),
  AUTH_AUDIENCE: z.string().min(1).optional(),
  /** The issuer's JWKS over HTTPS (an OIDC provider's jwks_uri); cached by the verifier. */
  AUTH_JWKS_URL: z.string().url().optional(),
  /** A JWKS file (the local dev issuer's). */
  AUTH_JWKS_FILE: z.string().min(1).optional(),
  /** Tolerance on exp/nbf for clocks that disagree. */
  AUTH_CLOCK_SKEW_SEC: env.int(30, 0, 300),
  AUTH_ALGORITHMS: env
    .list('RS256,PS256,ES256,EdDSA')
    .pipe(z.array(z.enum(ALLOWED_ALGORITHMS)).min(1, 'name at least one algorithm')),
  /** The realm in WWW-Authenticate challenges. */
  AUTH_REALM: z
    .string()
    .regex(/^[\x20\x21\x23-\x5b\x5d-\x7e]{1,64}$/)
    .default('sluice'),
  /** Verified access tokens remembered, so a client's repeated token skips the signature check; 0 turns it off. */
  AUTH_TOKEN_CACHE_SIZE: env.int(10_000, 0, 1_000_000),
  /** How long a remembered token is honoured at most (never past its exp): a key the issuer drops stops working within it. */
  AUTH_TOKEN_CACHE_TTL_SEC: env.int(60, 1, 3_600),
  /** Origins a browser may open status streams (SSE, WebSocket) from; requests without Origin are not browsers'. */
  AUTH_ALLOWED_ORIGINS: env.list(''),
};

export const DEV_ISSUER = { issuer: 'http://127.0.0.1/sluice-dev-issuer', audience: 'sluice', jwksFile: '.run/auth/jwks.json' };

export type AuthEnv = z.infer<z.ZodObject<typeof authEnv>>;

export interface AuthSettings {
  verifier: VerifierOptions;
  realm: string;
  allowedOrigins: readonly string[];
}

/** The missing settings, production only; a service's schema refines with it so start-up fails. */
export function authSettingsProblems(c: AuthEnv): string[] {
  const problems: string[] = [];
  if (c.AUTH_JWKS_URL && c.AUTH_JWKS_FILE) problems.push('set one of AUTH_JWKS_URL and AUTH_JWKS_FILE, not both');
  if (c.SLUICE_ENV === 'development') return problems;
  if (!c.AUTH_ISSUER) problems.push('AUTH_ISSUER is required outside development (SLUICE_ENV=development)');
  if (!c.AUTH_AUDIENCE) problems.push('AUTH_AUDIENCE is required outside development');
  if (!c.AUTH_JWKS_URL && !c.AUTH_JWKS_FILE) problems.push('AUTH_JWKS_URL (or AUTH_JWKS_FILE) is required outside development');
  if (c.AUTH_JWKS_URL && !c.AUTH_JWKS_URL.startsWith('https://'))
    problems.push('AUTH_JWKS_URL must be https outside development');
  return problems;
}

/** Adds authSettingsProblems to a service schema's checks. */
export function checkAuthEnv(c: AuthEnv, ctx: { addIssue(issue: { code: 'custom'; message: string }): void }): void {
  for (const message of authSettingsProblems(c)) ctx.addIssue({ code: 'custom', message });
}

export function authSettingsOf(c: AuthEnv): AuthSettings {
  const jwks = c.AUTH_JWKS_URL ? { url: c.AUTH_JWKS_URL } : { file: c.AUTH_JWKS_FILE ?? DEV_ISSUER.jwksFile };
  return {
    verifier: {
      issuer: c.AUTH_ISSUER ?? DEV_ISSUER.issuer,
      audience: c.AUTH_AUDIENCE ?? DEV_ISSUER.audience,
      jwks,
      clockSkewSec: c.AUTH_CLOCK_SKEW_SEC,
      algorithms: c.AUTH_ALGORITHMS,
      cache: { maxEntries: c.AUTH_TOKEN_CACHE_SIZE, ttlMs: c.AUTH_TOKEN_CACHE_TTL_SEC * 1_000 },
    },
    realm: c.AUTH_REALM,
    allowedOrigins: c.AUTH_ALLOWED_ORIGINS,
  };
}
