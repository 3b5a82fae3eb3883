import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig, z } from '@sluice/config';
import { kafkajsSecurity, kafkaSecurityEnv, kafkaSecurityFrom, platformaticSecurity } from './kafka-security';

// The password file is a secret setting's X_FILE, read by loadConfig; the certificates are read by kafkaSecurityFrom.
const secrets = mkdtempSync(join(tmpdir(), 'kafka-secrets-'));
const PASSWORD_FILE = join(secrets, 'password');
const EMPTY_FILE = join(secrets, 'empty');
writeFileSync(PASSWORD_FILE, 's3cret\n');
writeFileSync(EMPTY_FILE, '\n');
afterAll(() => rmSync(secrets, { recursive: true, force: true }));

const FILES: Record<string, string> = {
  '/tls/ca.pem': '-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----\n',
  '/tls/client.pem': 'CERT',
  '/tls/client.key': 'KEY',
};
const readFile = (path: string): string => {
  const content = FILES[path];
  if (content === undefined) throw Object.assign(new Error(`ENOENT ${path}`), { code: 'ENOENT' });
  return content;
};

/** Local development unless the case names its environment: production refuses plaintext on its own. */
function securityOf(environment: Record<string, string>) {
  return kafkaSecurityFrom(loadConfig(z.object(kafkaSecurityEnv), { SLUICE_ENV: 'development', ...environment }), readFile);
}

function problemsOf(environment: Record<string, string>): string[] {
  try {
    securityOf(environment);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error('the settings were accepted');
}

const SASL_SSL = {
  KAFKA_SECURITY_PROTOCOL: 'SASL_SSL',
  KAFKA_SASL_USERNAME: 'sluice-projector',
  KAFKA_SASL_PASSWORD_FILE: PASSWORD_FILE,
  KAFKA_SSL_CA_FILE: '/tls/ca.pem',
};

describe('kafkaSecurityFrom', () => {
  it('is plaintext without authentication when nothing is set (local development)', () => {
    expect(securityOf({})).toEqual({ protocol: 'PLAINTEXT' });
  });

  it('reads the password file without its trailing newline and the CA file', () => {
    expect(securityOf(SASL_SSL)).toEqual({
      protocol: 'SASL_SSL',
      sasl: { mechanism: 'SCRAM-SHA-512', username: 'sluice-projector', password: 's3cret' },
      tls: { ca: FILES['/tls/ca.pem'] },
    });
  });

  it('takes the password from KAFKA_SASL_PASSWORD', () => {
    const { KAFKA_SASL_PASSWORD_FILE: _, ...rest } = SASL_SSL;
    expect(securityOf({ ...rest, KAFKA_SASL_PASSWORD: 'inline' }).sasl?.password).toBe('inline');
  });

  it('refuses both a password and a password file', () => {
    expect(problemsOf({ ...SASL_SSL, KAFKA_SASL_PASSWORD: 'inline' })).toEqual([
      'KAFKA_SASL_PASSWORD: set either KAFKA_SASL_PASSWORD or KAFKA_SASL_PASSWORD_FILE, not both',
    ]);
  });

  it('requires a username and a password with SASL', () => {
    expect(problemsOf({ KAFKA_SECURITY_PROTOCOL: 'SASL_SSL' })).toEqual([
      'KAFKA_SASL_USERNAME is required with SASL_SSL',
      'KAFKA_SASL_PASSWORD or KAFKA_SASL_PASSWORD_FILE is required with SASL_SSL',
    ]);
  });

  it('names a password file it cannot read, and an empty one', () => {
    const missing = join(secrets, 'missing');
    expect(problemsOf({ ...SASL_SSL, KAFKA_SASL_PASSWORD_FILE: missing })).toEqual([
      `KAFKA_SASL_PASSWORD_FILE: cannot read ${missing} (ENOENT)`,
    ]);
    expect(problemsOf({ ...SASL_SSL, KAFKA_SASL_PASSWORD_FILE: EMPTY_FILE })).toEqual([
      `KAFKA_SASL_PASSWORD_FILE: ${EMPTY_FILE} is empty`,
    ]);
  });

  it('refuses SASL or TLS settings the protocol would ignore', () => {
    expect(problemsOf({ KAFKA_SASL_USERNAME: 'x', KAFKA_SSL_CA_FILE: '/tls/ca.pem' })).toEqual([
      'KAFKA_SASL_USERNAME is set but KAFKA_SECURITY_PROTOCOL PLAINTEXT does not authenticate with SASL',
      'KAFKA_SSL_* files are set but KAFKA_SECURITY_PROTOCOL PLAINTEXT does not use TLS',
    ]);
  });

  it('wants the client certificate and key together', () => {
    expect(problemsOf({ KAFKA_SECURITY_PROTOCOL: 'SSL', KAFKA_SSL_CERT_FILE: '/tls/client.pem' })).toEqual([
      'KAFKA_SSL_CERT_FILE and KAFKA_SSL_KEY_FILE go together',
    ]);
  });

  it('refuses plaintext in production', () => {
    expect(problemsOf({ SLUICE_ENV: 'production' })).toEqual([
      'KAFKA_SECURITY_PROTOCOL PLAINTEXT without credentials is refused with SLUICE_ENV=production: use SASL_SSL (or SSL with a client certificate), or set KAFKA_ALLOW_INSECURE=true',
    ]);
  });

  it('refuses SASL without TLS and TLS without a client certificate in production', () => {
    const { KAFKA_SSL_CA_FILE: _, ...sasl } = SASL_SSL;
    expect(problemsOf({ ...sasl, KAFKA_SECURITY_PROTOCOL: 'SASL_PLAINTEXT', SLUICE_ENV: 'production' })).toHaveLength(1);
    expect(problemsOf({ KAFKA_SECURITY_PROTOCOL: 'SSL', SLUICE_ENV: 'production' })).toHaveLength(1);
  });

  it('accepts SASL_SSL, and SSL with a client certificate, in production', () => {
    expect(securityOf({ ...SASL_SSL, SLUICE_ENV: 'production' }).protocol).toBe('SASL_SSL');
    const mtls = securityOf({
      SLUICE_ENV: 'production',
      KAFKA_SECURITY_PROTOCOL: 'SSL',
      KAFKA_SSL_CERT_FILE: '/tls/client.pem',
      KAFKA_SSL_KEY_FILE: '/tls/client.key',
    });
    expect(mtls.tls).toEqual({ cert: 'CERT', key: 'KEY' });
  });

  it('lets an operator allow plaintext in production explicitly', () => {
    expect(securityOf({ SLUICE_ENV: 'production', KAFKA_ALLOW_INSECURE: 'true' })).toEqual({ protocol: 'PLAINTEXT' });
  });
});

describe('client options', () => {
  it('gives kafkajs its lower-case mechanism and the CA as a list', () => {
    expect(kafkajsSecurity(securityOf(SASL_SSL))).toEqual({
      ssl: { ca: [FILES['/tls/ca.pem']] },
      sasl: { mechanism: 'scram-sha-512', username: 'sluice-projector', password: 's3cret' },
    });
    expect(kafkajsSecurity({ protocol: 'PLAINTEXT' })).toEqual({});
  });

  it('gives @platformatic/kafka tls and sasl with the mechanism as the broker names it', () => {
    expect(platformaticSecurity(securityOf({ ...SASL_SSL, KAFKA_SASL_MECHANISM: 'SCRAM-SHA-256' }))).toEqual({
      tls: { ca: FILES['/tls/ca.pem'] },
      sasl: { mechanism: 'SCRAM-SHA-256', username: 'sluice-projector', password: 's3cret' },
    });
  });
});
