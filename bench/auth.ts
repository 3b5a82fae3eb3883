import { join } from 'node:path';
import { devIssuer } from '@sluice/platform';
import { ALL_SCOPES, repoRoot, testIssuer } from '@sluice/testing';

/** Long enough for the longest bench run. */
const TTL_SEC = 12 * 3_600;

/**
 * The Authorization header of a bench client, for benches that start their
 * own services with the test issuer's settings (testIssuer().env()): the
 * APIs check these tokens on every request, as in production.
 */
export async function benchBearer(subject = 'bench'): Promise<{ authorization: string }> {
  return { authorization: `Bearer ${await testIssuer().token(subject, ALL_SCOPES, { ttlSec: TTL_SEC })}` };
}

/** The same for benches against the platform `make up` runs: a token of its dev issuer (.run/auth). */
export async function localBearer(subject = 'bench'): Promise<{ authorization: string }> {
  const issuer = devIssuer(process.env.SLUICE_RUN_DIR ?? join(repoRoot(), '.run'));
  return { authorization: `Bearer ${await issuer.token({ subject, scope: ALL_SCOPES, ttlSec: TTL_SEC })}` };
}
