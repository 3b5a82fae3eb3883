import { AuthError } from '@sluice/auth';
import { authProblem } from './auth-problem';

describe('authProblem', () => {
  it('answers a missing token 401 unauthenticated with the bare realm challenge', () => {
    const p = authProblem(new AuthError('token_missing', 'send a token'), 'sluice');
    expect(p.status).toBe(401);
    expect(p.code).toBe('unauthenticated');
    expect(p.headers).toEqual({ 'www-authenticate': 'Bearer realm="sluice"' });
  });

  it('answers a refused token 401 invalid_token, its reason in error_description', () => {
    const p = authProblem(new AuthError('token_invalid', 'the token expired'), 'sluice');
    expect(p.status).toBe(401);
    expect(p.headers['www-authenticate']).toBe(
      'Bearer realm="sluice", error="invalid_token", error_description="the token expired"',
    );
  });

  it('answers a missing scope 403 insufficient_scope naming it, in the challenge and the body', () => {
    const p = authProblem(new AuthError('insufficient_scope', 'needs funds:deposit', 'funds:deposit'), 'sluice');
    expect(p.status).toBe(403);
    expect(p.headers['www-authenticate']).toBe('Bearer realm="sluice", error="insufficient_scope", scope="funds:deposit"');
    expect(p.toProblem()).toMatchObject({ status: 403, code: 'insufficient_scope', scope: 'funds:deposit' });
  });

  it('answers an unreachable key set 503 with Retry-After, not 401: the token may be fine', () => {
    const p = authProblem(new AuthError('issuer_unavailable', 'no key set'), 'sluice');
    expect(p.status).toBe(503);
    expect(p.headers['retry-after']).toBe('1');
    expect(p.retriable).toBe(true);
  });
});
