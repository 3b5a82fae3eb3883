import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DevIssuer, type TokenRequest } from '@sluice/auth';

/** Every scope the APIs know: the tests' default, for requests whose authorization is not the point. */
export const ALL_SCOPES = 'wallets:open wallets:read withdrawals:request funds:deposit';

/**
 * The access-token issuer of a test run: a key pair made once per test
 * process, its JWKS in a temporary file, and tokens minted on demand.
 * Services under test verify them exactly as production tokens (issuer,
 * audience, key set, expiry), from the settings `env` gives.
 */
export class TestIssuer {
  private readonly minted = new Map<string, Promise<string>>();

  private constructor(
    readonly issuer: DevIssuer,
    readonly jwksFile: string,
  ) {}

  static create(): TestIssuer {
    const issuer = DevIssuer.generate('https://issuer.sluice.test/', 'sluice-test');
    const { jwksFile } = issuer.save(mkdtempSync(join(tmpdir(), 'sluice-issuer-')));
    return new TestIssuer(issuer, jwksFile);
  }

  /** The settings of a service that trusts this issuer (production mode: nothing comes from development defaults). */
  env(): Record<string, string> {
    return { AUTH_ISSUER: this.issuer.issuer, AUTH_AUDIENCE: this.issuer.audience, AUTH_JWKS_FILE: this.jwksFile };
  }

  token(subject: string, scope: string = ALL_SCOPES, more: Omit<TokenRequest, 'subject' | 'scope'> = {}): Promise<string> {
    return this.issuer.token({ subject, scope, ...more });
  }

  /** An Authorization header for `subject`, minted once per subject and scopes (valid for an hour). */
  async bearer(subject: string, scope: string = ALL_SCOPES): Promise<{ authorization: string }> {
    const key = `${subject}\n${scope}`;
    let token = this.minted.get(key);
    if (!token) {
      token = this.token(subject, scope, { ttlSec: 3_600 });
      this.minted.set(key, token);
    }
    return { authorization: `Bearer ${await token}` };
  }
}

let shared: TestIssuer | undefined;

/** The issuer every test in this process shares. */
export function testIssuer(): TestIssuer {
  shared ??= TestIssuer.create();
  return shared;
}
