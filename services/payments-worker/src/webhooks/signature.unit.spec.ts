import { signPayload, verifySignature } from './signature';

const SECRET = 'a-secret-of-sixteen+';
const body = '{"id":"evt_1","type":"payout.paid"}';
const NOW = Date.parse('2026-11-27T10:00:00Z');

describe('webhook signature', () => {
  it('accepts a delivery signed with the secret over the raw body within the window', () => {
    expect(verifySignature(signPayload(SECRET, body, NOW), Buffer.from(body), SECRET, 300, NOW + 299_000)).toEqual({ ok: true });
  });

  it('refuses a missing, malformed, wrongly signed or tampered delivery', () => {
    const sig = signPayload(SECRET, body, NOW);
    expect(verifySignature(undefined, Buffer.from(body), SECRET, 300, NOW)).toEqual({ ok: false, reason: 'missing' });
    expect(verifySignature('v1=abc', Buffer.from(body), SECRET, 300, NOW)).toEqual({ ok: false, reason: 'malformed' });
    expect(verifySignature(signPayload('another-secret-16chars', body, NOW), Buffer.from(body), SECRET, 300, NOW)).toEqual({
      ok: false,
      reason: 'mismatch',
    });
    expect(verifySignature(sig, Buffer.from(body.replace('paid', 'failed')), SECRET, 300, NOW)).toEqual({
      ok: false,
      reason: 'mismatch',
    });
  });

  it('refuses a correctly signed delivery replayed outside the timestamp window', () => {
    expect(verifySignature(signPayload(SECRET, body, NOW), Buffer.from(body), SECRET, 300, NOW + 301_000)).toEqual({
      ok: false,
      reason: 'stale',
    });
  });

  it('accepts any of several v1 signatures (secret rotation)', () => {
    const t = Math.floor(NOW / 1000);
    const good = signPayload(SECRET, body, NOW).split('v1=')[1]!;
    expect(verifySignature(`t=${t},v1=${'0'.repeat(64)},v1=${good}`, Buffer.from(body), SECRET, 300, NOW)).toEqual({ ok: true });
  });
});
