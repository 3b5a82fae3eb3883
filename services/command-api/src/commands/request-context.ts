import type { FastifyRequest } from 'fastify';
import { z } from 'zod';
import { UUID_PATTERN } from '@sluice/core';
import { AuthError, requireReadScope, type Principal } from '@sluice/auth';
import { parseOrProblem, principalOf, problems } from '@sluice/http';
import { isCurrency } from '@sluice/wallet-domain';
import { fingerprint, IDEMPOTENCY_KEY_PATTERN, type IdempotencyClaim } from '../idempotency/idempotency';

export const currencyField = z
  .string()
  .regex(/^[A-Z]{3}$/, 'must be an ISO 4217 alphabetic code such as EUR')
  .refine(isCurrency, 'is not an ISO 4217 currency in circulation');

/** A positive safe integer in minor units (1250 = 12.50 EUR). */
export const amountField = z
  .number({ error: 'must be a number' })
  .int('must be a whole number of minor units')
  .positive('must be greater than zero')
  .max(Number.MAX_SAFE_INTEGER, `must not exceed ${Number.MAX_SAFE_INTEGER}`);

// Built once: a zod schema costs more to construct than to run.
const walletId = z.string().regex(UUID_PATTERN, 'must be a UUID');

export function walletIdParam(value: unknown): string {
  return parseOrProblem(walletId, value, 'path.walletId').toLowerCase();
}

/** The request's principal, refused 403 insufficient_scope unless its token grants `scope`. */
export function authorized(request: FastifyRequest, scope: string): Principal {
  const principal = principalOf(request);
  if (!principal.scopes.has(scope)) throw new AuthError('insufficient_scope', `this request needs the ${scope} scope`, scope);
  return principal;
}

/** A read's principal: 403 without a read scope; which wallets it may see, canRead decides. */
export function readAuthorized(request: FastifyRequest): Principal {
  const principal = principalOf(request);
  requireReadScope(principal);
  return principal;
}

/** Who a command acts for in the audit log: the principal and the request's Idempotency-Key. */
export function httpActor(
  principal: Principal,
  idempotency: IdempotencyClaim,
): { principal: string; source: 'http'; requestId: string } {
  return { principal: principal.subject, source: 'http', requestId: idempotency.key };
}

/**
 * The Idempotency-Key claim every POST needs: keys are scoped by the
 * principal, so the same key from two subjects names two requests.
 */
export function idempotencyClaim(request: FastifyRequest, principal: Principal, path: string, body: unknown): IdempotencyClaim {
  const key = request.headers['idempotency-key'];
  if (key === undefined) {
    throw problems.badRequest(
      'idempotency_key_missing',
      'Idempotency-Key required',
      'every POST needs an Idempotency-Key header (a UUID per logical request) so a retry cannot apply it twice',
    );
  }
  if (typeof key !== 'string' || !IDEMPOTENCY_KEY_PATTERN.test(key)) {
    throw problems.validation('header Idempotency-Key: must be 1-255 visible ASCII characters', [
      { path: 'header.Idempotency-Key', message: 'must be 1-255 visible ASCII characters' },
    ]);
  }
  return { clientId: principal.subject, key, fingerprint: fingerprint(request.method, path, body) };
}
