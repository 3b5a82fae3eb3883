import { createPrivateKey, generateKeyPairSync, randomUUID } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SignJWT, type JWK, type KeyLike } from 'jose';

export interface TokenRequest {
  subject: string;
  /** Space-separated scopes. */
  scope?: string;
  /** Lifetime, seconds (default 15 minutes). */
  ttlSec?: number;
  /** Overrides for tests of refusals: another audience, issuer, a time in the past. */
  audience?: string;
  issuer?: string;
  issuedAt?: number;
  notBefore?: number;
  typ?: string;
  /** A client-credentials token: client_id and no sub. */
  clientCredentials?: boolean;
}

/**
 * An OAuth 2.0 issuer for local development and tests: one ES256 key pair,
 * its public JWKS, and RFC 9068 access tokens signed with it. Production
 * tokens come from a real OIDC provider; services only ever see the JWKS.
 */
export class DevIssuer {
  private constructor(
    private readonly key: KeyLike | Uint8Array,
    readonly kid: string,
    readonly jwks: { keys: JWK[] },
    readonly issuer: string,
    readonly audience: string,
    private readonly privateJwk: JWK,
  ) {}

  static generate(issuer: string, audience: string): DevIssuer {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const kid = randomUUID();
    const publicJwk = { ...(publicKey.export({ format: 'jwk' }) as JWK), kid, alg: 'ES256', use: 'sig' };
    const privateJwk = { ...(privateKey.export({ format: 'jwk' }) as JWK), kid, alg: 'ES256' };
    return new DevIssuer(privateKey, kid, { keys: [publicJwk] }, issuer, audience, privateJwk);
  }

  /**
   * The issuer kept in `dir` (issuer.json with the private key, mode 0600;
   * jwks.json with the public one, for AUTH_JWKS_FILE), created on first use.
   */
  static inDirectory(dir: string, issuer: string, audience: string): DevIssuer {
    const keyFile = join(dir, 'issuer.json');
    if (existsSync(keyFile)) {
      const saved = JSON.parse(readFileSync(keyFile, 'utf8')) as { key: JWK; issuer: string; audience: string };
      const jwks = JSON.parse(readFileSync(join(dir, 'jwks.json'), 'utf8')) as { keys: JWK[] };
      const key = createPrivateKey({ key: saved.key as never, format: 'jwk' });
      return new DevIssuer(key, saved.key.kid!, jwks, saved.issuer, saved.audience, saved.key);
    }
    const created = DevIssuer.generate(issuer, audience);
    created.save(dir);
    return created;
  }

  save(dir: string): { jwksFile: string } {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const keyFile = join(dir, 'issuer.json');
    writeFileSync(keyFile, JSON.stringify({ key: this.privateJwk, issuer: this.issuer, audience: this.audience }), {
      mode: 0o600,
    });
    chmodSync(keyFile, 0o600);
    const jwksFile = join(dir, 'jwks.json');
    writeFileSync(jwksFile, JSON.stringify(this.jwks));
    return { jwksFile };
  }

  async token(request: TokenRequest): Promise<string> {
    const now = request.issuedAt ?? Math.floor(Date.now() / 1000);
    const claims: Record<string, unknown> = { jti: randomUUID() };
    if (request.scope !== undefined) claims.scope = request.scope;
    if (request.clientCredentials) claims.client_id = request.subject;
    const jwt = new SignJWT(claims)
      .setProtectedHeader({ alg: 'ES256', kid: this.kid, typ: request.typ ?? 'at+jwt' })
      .setIssuer(request.issuer ?? this.issuer)
      .setAudience(request.audience ?? this.audience)
      .setIssuedAt(now)
      .setExpirationTime(now + (request.ttlSec ?? 900));
    if (!request.clientCredentials) jwt.setSubject(request.subject);
    if (request.notBefore !== undefined) jwt.setNotBefore(request.notBefore);
    return jwt.sign(this.key);
  }
}
