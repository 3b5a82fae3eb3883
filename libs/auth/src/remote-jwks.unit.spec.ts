import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DevIssuer } from './dev-issuer';
import { AuthError } from './principal';
import { TokenVerifier } from './verifier';

/** A key set served over HTTP, as an OIDC provider's jwks_uri serves it (a local server, in this process). */
const ISSUER = 'https://issuer.test/';
const AUDIENCE = 'sluice-test';
let server: Server;
let url: string;
let fetches = 0;
let keys: DevIssuer[];

beforeAll(async () => {
  keys = [DevIssuer.generate(ISSUER, AUDIENCE)];
  server = createServer((_req, res) => {
    fetches++;
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: keys.flatMap((k) => k.jwks.keys) }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks.json`;
});

afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

const verifierOf = (jwksUrl: string, jwksCooldownMs?: number) =>
  TokenVerifier.create({
    issuer: ISSUER,
    audience: AUDIENCE,
    jwks: { url: jwksUrl },
    clockSkewSec: 5,
    algorithms: ['ES256'],
    ...(jwksCooldownMs !== undefined && { jwksCooldownMs }),
  });

describe('TokenVerifier (a remote JWKS)', () => {
  it('fetches the key set once and verifies many tokens from the cache', async () => {
    const verifier = verifierOf(url);
    fetches = 0;
    for (let i = 0; i < 20; i++) {
      await expect(verifier.verify(await keys[0]!.token({ subject: `s${i}` }))).resolves.toMatchObject({ subject: `s${i}` });
    }
    expect(fetches).toBe(1);
  });

  it('refetches for a key id it has not seen (a rotated key) once the cooldown passed, and accepts tokens signed with it', async () => {
    const verifier = verifierOf(url, 200);
    await verifier.verify(await keys[0]!.token({ subject: 'a' }));
    const rotated = DevIssuer.generate(ISSUER, AUDIENCE);
    keys.push(rotated);
    fetches = 0;
    // Within the cooldown an unknown key is refused without a fetch: a flood of made-up key ids cannot hammer the issuer.
    await expect(verifier.verify(await rotated.token({ subject: 'b' }))).rejects.toMatchObject({ code: 'token_invalid' });
    expect(fetches).toBe(0);
    await new Promise((resolve) => setTimeout(resolve, 250));
    await expect(verifier.verify(await rotated.token({ subject: 'b' }))).resolves.toMatchObject({ subject: 'b' });
    expect(fetches).toBe(1);
  });

  it('answers issuer_unavailable (retriable) when the key set cannot be fetched', async () => {
    const verifier = verifierOf('http://127.0.0.1:9/jwks.json');
    const err = await verifier.verify(await keys[0]!.token({ subject: 'a' })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AuthError);
    expect(err).toMatchObject({ code: 'issuer_unavailable', retriable: true });
  });
});
