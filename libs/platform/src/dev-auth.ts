import { join } from 'node:path';
import { DEV_ISSUER, DevIssuer } from '@sluice/auth';

/** Where the local dev issuer keeps its key pair and JWKS, under the run directory (.run/auth). */
export function devIssuerDir(runDir: string): string {
  return join(runDir, 'auth');
}

/**
 * The local platform's access-token issuer: created on first use under
 * `<runDir>/auth` (issuer.json with the private key, mode 0600; jwks.json,
 * which the services read). Local development only: production services
 * trust a real OIDC provider (AUTH_JWKS_URL, AUTH_ISSUER).
 */
export function devIssuer(runDir: string): DevIssuer {
  return DevIssuer.inDirectory(devIssuerDir(runDir), DEV_ISSUER.issuer, DEV_ISSUER.audience);
}

/**
 * The settings that make the APIs trust the dev issuer, named explicitly (as
 * production requires), so the local platform runs in the services' default mode.
 */
export function devAuthEnv(runDir: string): Record<string, string> {
  return {
    AUTH_ISSUER: DEV_ISSUER.issuer,
    AUTH_AUDIENCE: DEV_ISSUER.audience,
    AUTH_JWKS_FILE: join(devIssuerDir(runDir), 'jwks.json'),
  };
}
