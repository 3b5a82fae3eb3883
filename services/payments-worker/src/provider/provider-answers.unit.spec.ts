import { boundedCode, classifyFailure, classifyRefusal, declineReason, redactBody } from './provider-answers';

describe('provider answers', () => {
  it('takes only a 422 with a documented decline code to a payout request as final', () => {
    expect(classifyRefusal('create', 422, 'declined')).toEqual({ final: true, code: 'declined' });
    expect(classifyRefusal('create', 422, 'idempotency_key_reused')).toEqual({ final: false, reason: 'unexpected_refusal' });
    expect(classifyRefusal('create', 409, 'declined')).toEqual({ final: false, reason: 'unexpected_refusal' });
    expect(classifyRefusal('create', 401, 'unauthorized')).toEqual({ final: false, reason: 'unexpected_refusal' });
    expect(classifyRefusal('create', 404, 'not_found')).toEqual({ final: false, reason: 'unexpected_refusal' });
  });

  it('never takes a 4xx to a look-up as final', () => {
    expect(classifyRefusal('look_up', 422, 'declined')).toEqual({ final: false, reason: 'look_up_refused' });
  });

  it('reads the decline codes from configuration', () => {
    expect(classifyRefusal('create', 422, 'insufficient_funds', ['insufficient_funds'])).toEqual({
      final: true,
      code: 'insufficient_funds',
    });
    expect(classifyFailure('declined', ['insufficient_funds'])).toEqual({ final: false, reason: 'unknown_failure_code' });
  });

  it('takes a failed payout as final only with a documented code', () => {
    expect(classifyFailure('declined')).toEqual({ final: true, code: 'declined' });
    expect(classifyFailure(null)).toEqual({ final: false, reason: 'unknown_failure_code' });
    expect(declineReason('declined')).toBe('provider_declined:declined');
  });

  it('keeps a provider code only when it looks like one', () => {
    expect(boundedCode('payout_not_found', 404)).toBe('payout_not_found');
    expect(boundedCode('<script>alert(1)</script>', 400)).toBe('http_400');
    expect(boundedCode('x'.repeat(80), 409)).toBe('http_409');
    expect(boundedCode(undefined, 401)).toBe('http_401');
  });

  it('cuts and masks a provider body for the debug log', () => {
    const body =
      JSON.stringify({ code: 'x', token: 'abc123', iban: 'DE89370400440532013000', email: 'a.b@example.com' }) + 'y'.repeat(1000);
    const out = redactBody(body, 200);
    expect(out.length).toBeLessThanOrEqual(200);
    expect(out).not.toContain('abc123');
    expect(out).not.toContain('DE89370400440532013000');
    expect(out).not.toContain('a.b@example.com');
  });
});
