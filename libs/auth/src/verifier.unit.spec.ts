import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SignJWT, UnsecuredJWT } from 'jose';
import { DevIssuer } from './dev-issuer';
import { AuthError } from './principal';
import { TokenVerifier } from './verifier';

const ISSUER = 'https://issuer.test';
const AUDIENCE = 'sluice-test';
let dir: string;
let issuer: DevIssuer;
let verifier: TokenVerifier;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'sluice-auth-'));
  issuer = DevIssuer.generate(ISSUER, AUDIENCE);
  const { jwksFile } = issuer.save(dir);
  verifier = TokenVerifier.create({
    issuer: ISSUER,
    audience: AUDIENCE,
    jwks: { file: jwksFile },
    clockSkewSec: 5,
    algorithms: ['ES256'],
  });
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function refusal(token: string): Promise<AuthError> {
  const err = await verifier.verify(token).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(AuthError);
  return err as AuthError;
}

describe('TokenVerifier (a local JWKS file)', () => {
  it('accepts an at+jwt token: its sub is the subject, its scope claim the scopes', async () => {
    const principal = await verifier.verify(await issuer.token({ subject: 'alice', scope: 'wallets:read wallets:open' }));
    expect(principal.subject).toBe('alice');
    expect([...principal.scopes]).toEqual(['wallets:read', 'wallets:open']);
  });

  it('takes client_id as the subject of a client-credentials token without sub', async () => {
    const principal = await verifier.verify(await issuer.token({ subject: 'funding-svc', clientCredentials: true }));
    expect(principal.subject).toBe('funding-svc');
  });

  it('accepts a plain JWT typ', async () => {
    await expect(verifier.verify(await issuer.token({ subject: 'alice', typ: 'JWT' }))).resolves.toMatchObject({
      subject: 'alice',
    });
  });

  it('refuses an expired token, beyond the clock skew', async () => {
    const now = Math.floor(Date.now() / 1000);
    const err = await refusal(await issuer.token({ subject: 'alice', issuedAt: now - 120, ttlSec: 60 }));
    expect(err.code).toBe('token_invalid');
    expect(err.message).toBe('the token expired');
  });

  it('accepts a token expired for less than the clock skew', async () => {
    const now = Math.floor(Date.now() / 1000);
    await expect(verifier.verify(await issuer.token({ subject: 'a', issuedAt: now - 62, ttlSec: 60 }))).resolves.toBeDefined();
  });

  it('refuses a token not valid yet', async () => {
    const err = await refusal(await issuer.token({ subject: 'a', notBefore: Math.floor(Date.now() / 1000) + 600 }));
    expect(err.message).toBe('the token is not valid yet');
  });

  it('refuses another audience and another issuer', async () => {
    expect((await refusal(await issuer.token({ subject: 'a', audience: 'other' }))).message).toBe(
      'the token is for another audience',
    );
    expect((await refusal(await issuer.token({ subject: 'a', issuer: 'https://evil.test' }))).message).toBe(
      'the token is from another issuer',
    );
  });

  it('refuses a token signed by another key', async () => {
    const other = DevIssuer.generate(ISSUER, AUDIENCE);
    expect((await refusal(await other.token({ subject: 'a' }))).code).toBe('token_invalid');
  });

  it('refuses an unsigned token (alg none)', async () => {
    const token = new UnsecuredJWT({ sub: 'a' }).setIssuer(ISSUER).setAudience(AUDIENCE).setExpirationTime('5m').encode();
    expect((await refusal(token)).code).toBe('token_invalid');
  });

  it('refuses an HMAC-signed token, whatever its key', async () => {
    const token = await new SignJWT({ sub: 'a' })
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setExpirationTime('5m')
      .sign(new TextEncoder().encode('x'.repeat(32)));
    expect((await refusal(token)).code).toBe('token_invalid');
  });

  it('refuses a token of another type (an ID token)', async () => {
    const err = await refusal(await issuer.token({ subject: 'a', typ: 'id+jwt' }));
    expect(err.message).toBe('token type id+jwt is not an access token');
  });

  it('refuses a token without exp', async () => {
    const token = await new SignJWT({ sub: 'a' })
      .setProtectedHeader({ alg: 'ES256', kid: issuer.kid })
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .sign((issuer as unknown as { key: Uint8Array }).key);
    expect((await refusal(token)).code).toBe('token_invalid');
  });

  it('refuses a configuration allowing an HMAC algorithm', () => {
    expect(() =>
      TokenVerifier.create({
        issuer: ISSUER,
        audience: AUDIENCE,
        jwks: { file: join(dir, 'jwks.json') },
        clockSkewSec: 0,
        algorithms: ['HS256'],
      }),
    ).toThrow('algorithm HS256 is not allowed');
  });
});

describe('TokenVerifier with a cache of verified tokens', () => {
  const cached = () =>
    TokenVerifier.create({
      issuer: ISSUER,
      audience: AUDIENCE,
      jwks: { file: join(dir, 'jwks.json') },
      clockSkewSec: 5,
      algorithms: ['ES256'],
      cache: { maxEntries: 100, ttlMs: 60_000 },
    });

  it('checks a token once and answers its repeats from the cache, with the same principal', async () => {
    const v = cached();
    const token = await issuer.token({ subject: 'alice', scope: 'wallets:read' });
    const first = await v.verify(token);
    const again = await v.verify(token);
    expect(again).toBe(first);
    expect({ hits: v.verified.hits, misses: v.verified.misses }).toEqual({ hits: 1, misses: 1 });
  });

  it('remembers no refused token: a tampered one is refused every time', async () => {
    const v = cached();
    const token = await issuer.token({ subject: 'alice', scope: 'wallets:read' });
    const [header, , signature] = token.split('.');
    const forged = `${header}.${Buffer.from(JSON.stringify({ sub: 'mallory', iss: ISSUER, aud: AUDIENCE, exp: 9_999_999_999 })).toString('base64url')}.${signature}`;
    for (let i = 0; i < 2; i++) await expect(v.verify(forged)).rejects.toBeInstanceOf(AuthError);
    expect(v.verified.size).toBe(0);
  });
});
