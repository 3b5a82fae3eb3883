import { createHmac, timingSafeEqual } from 'node:crypto';

export type SignatureCheck = { ok: true } | { ok: false; reason: 'missing' | 'malformed' | 'mismatch' | 'stale' };

/**
 * Checks the provider's webhook signature: `t=<unix seconds>,v1=<hex
 * HMAC-SHA256 of "<t>.<raw body>">`, over the raw bytes as received (a
 * re-serialised body would not match), compared in constant time, and
 * refused when the timestamp is further than `toleranceS` from now (a
 * captured delivery replayed later).
 */
export function verifySignature(
  header: string | undefined,
  rawBody: Buffer,
  secret: string,
  toleranceS: number,
  nowMs: number = Date.now(),
): SignatureCheck {
  if (!header) return { ok: false, reason: 'missing' };
  const parts = new Map<string, string[]>();
  for (const item of header.split(',')) {
    const i = item.indexOf('=');
    if (i <= 0) return { ok: false, reason: 'malformed' };
    const k = item.slice(0, i).trim();
    parts.set(k, [...(parts.get(k) ?? []), item.slice(i + 1).trim()]);
  }
  const t = parts.get('t')?.[0];
  const signatures = parts.get('v1') ?? [];
  if (!t || !/^\d{1,12}$/.test(t) || signatures.length === 0) return { ok: false, reason: 'malformed' };
  const expected = createHmac('sha256', secret).update(`${t}.`).update(rawBody).digest();
  // Several v1 entries let a provider sign with an old and a new secret during a rotation.
  const matches = signatures.some((s) => {
    if (!/^[0-9a-f]{64}$/i.test(s)) return false;
    return timingSafeEqual(Buffer.from(s, 'hex'), expected);
  });
  if (!matches) return { ok: false, reason: 'mismatch' };
  if (Math.abs(nowMs / 1000 - Number(t)) > toleranceS) return { ok: false, reason: 'stale' };
  return { ok: true };
}

/** The provider's side of the scheme, for tests and tools that play the provider. */
export function signPayload(secret: string, rawBody: string, nowMs: number = Date.now()): string {
  const t = Math.floor(nowMs / 1000);
  return `t=${t},v1=${createHmac('sha256', secret).update(`${t}.${rawBody}`).digest('hex')}`;
}
