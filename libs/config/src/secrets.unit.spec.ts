import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, commonEnv, env, loadConfig, z } from './index';

const schema = z.object({
  SLUICE_ENV: commonEnv.SLUICE_ENV,
  DATABASE_URL: commonEnv.DATABASE_URL,
  PSP_WEBHOOK_SECRET: z.string().min(16).default('sluice-local-psp-webhook-secret'),
});
const dir = mkdtempSync(join(tmpdir(), 'sluice-secrets-'));
const file = (name: string, content: string) => {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
};
const problems = (source: Record<string, string>): string => {
  try {
    loadConfig(schema, source);
  } catch (err) {
    return (err as ConfigError).problems.join('\n');
  }
  throw new Error('the configuration was accepted');
};
const productionUrl = 'postgres://sluice_command_api:s3cret@db.internal:5432/sluice?sslmode=verify-full';

describe('secret settings', () => {
  it('reads X from X_FILE, trimmed', () => {
    const config = loadConfig(schema, {
      SLUICE_ENV: 'development',
      PSP_WEBHOOK_SECRET_FILE: file('webhook', '  a-secret-from-a-file-0123\n'),
    });
    expect(config.PSP_WEBHOOK_SECRET).toBe('a-secret-from-a-file-0123');
  });

  it('refuses X and X_FILE together', () => {
    expect(problems({ PSP_WEBHOOK_SECRET: 'x'.repeat(20), PSP_WEBHOOK_SECRET_FILE: file('both', 'y'.repeat(20)) })).toMatch(
      /PSP_WEBHOOK_SECRET: set either PSP_WEBHOOK_SECRET or PSP_WEBHOOK_SECRET_FILE, not both/,
    );
  });

  it('refuses an X_FILE that cannot be read or is empty', () => {
    expect(problems({ DATABASE_URL_FILE: join(dir, 'missing') })).toMatch(/DATABASE_URL_FILE: cannot read .*ENOENT/);
    expect(problems({ DATABASE_URL_FILE: file('empty', ' \n') })).toMatch(/DATABASE_URL_FILE: .* is empty/);
  });

  it('accepts the development defaults in development', () => {
    expect(loadConfig(schema, { SLUICE_ENV: 'development' }).SLUICE_ENV).toBe('development');
  });

  it('holds a process without SLUICE_ENV to production rules', () => {
    expect(problems({})).toMatch(/PSP_WEBHOOK_SECRET: is the public development default/);
  });

  it('refuses in production a missing secret that has a development default', () => {
    const found = problems({ SLUICE_ENV: 'production', DATABASE_URL: productionUrl });
    expect(found).toMatch(/PSP_WEBHOOK_SECRET: is the public development default/);
  });

  it("lists the secrets' problems beside another setting's, so one start-up names them all", () => {
    const withRule = schema.refine((c) => c.SLUICE_ENV === 'development', { message: 'a key file is required' });
    let found = '';
    try {
      loadConfig(withRule, { SLUICE_ENV: 'production', DATABASE_URL: productionUrl });
    } catch (err) {
      found = (err as ConfigError).problems.join('\n');
    }
    expect(found).toMatch(/a key file is required/);
    expect(found).toMatch(/PSP_WEBHOOK_SECRET: is the public development default/);
    expect(found).not.toMatch(/DATABASE_URL/);
  });

  it('refuses in production a DATABASE_URL of the superuser or without a password', () => {
    const secret = 'p'.repeat(32);
    expect(problems({ SLUICE_ENV: 'production', PSP_WEBHOOK_SECRET: secret })).toMatch(
      /DATABASE_URL: must name the service's own database role, not postgres/,
    );
    expect(
      problems({
        SLUICE_ENV: 'production',
        PSP_WEBHOOK_SECRET: secret,
        DATABASE_URL: 'postgres://sluice_query_api@db:5432/sluice',
      }),
    ).toMatch(/DATABASE_URL: has no password/);
  });

  it('starts in production with every secret set, from files or not', () => {
    const config = loadConfig(schema, {
      SLUICE_ENV: 'production',
      DATABASE_URL_FILE: file('url', productionUrl),
      PSP_WEBHOOK_SECRET: 'q'.repeat(32),
    });
    expect(config.DATABASE_URL).toBe(productionUrl);
  });

  it('refuses an unknown environment name', () => {
    expect(() => loadConfig(schema, { SLUICE_ENV: 'prod' })).toThrow(ConfigError);
  });
});

describe('DATABASE_SSL_CA_FILE', () => {
  const tlsSchema = z.object({ DATABASE_URL: commonEnv.DATABASE_URL, DATABASE_SSL_CA_FILE: commonEnv.DATABASE_SSL_CA_FILE });

  it('turns DATABASE_URL into a verify-full URL with that CA', () => {
    const config = loadConfig(tlsSchema, {
      DATABASE_URL: 'postgres://u:p@db:5432/sluice',
      DATABASE_SSL_CA_FILE: '/etc/pg/ca.crt',
    });
    const url = new URL(config.DATABASE_URL);
    expect(url.searchParams.get('sslmode')).toBe('verify-full');
    expect(url.searchParams.get('sslrootcert')).toBe('/etc/pg/ca.crt');
  });

  it('refuses a DATABASE_URL that asks for a weaker sslmode', () => {
    expect(() =>
      loadConfig(tlsSchema, { DATABASE_URL: 'postgres://u:p@db/sluice?sslmode=require', DATABASE_SSL_CA_FILE: '/ca.crt' }),
    ).toThrow(/needs sslmode=verify-full/);
  });

  it('is what production asks for when DATABASE_URL has no sslmode', () => {
    const base = { SLUICE_ENV: 'production', PSP_WEBHOOK_SECRET: 'z'.repeat(32) };
    expect(problems({ ...base, DATABASE_URL: 'postgres://sluice_bonus_service:pw@db:5432/sluice' })).toMatch(
      /DATABASE_URL: must verify the server over TLS/,
    );
    const prod = z.object({ ...schema.shape, DATABASE_SSL_CA_FILE: commonEnv.DATABASE_SSL_CA_FILE });
    expect(
      loadConfig(prod, {
        ...base,
        DATABASE_URL: 'postgres://sluice_bonus_service:pw@db:5432/sluice',
        DATABASE_SSL_CA_FILE: '/ca',
      }).SLUICE_ENV,
    ).toBe('production');
  });
});

describe('development conveniences', () => {
  const flags = z.object({
    SLUICE_ENV: commonEnv.SLUICE_ENV,
    MIGRATE_ON_START: env.bool(true),
    OUTBOX_ENSURE_SLOT: env.bool(true),
  });

  it('are on by default in development and off by default in production (the default), unless set', () => {
    expect(loadConfig(flags, { SLUICE_ENV: 'development' })).toMatchObject({ MIGRATE_ON_START: true, OUTBOX_ENSURE_SLOT: true });
    expect(loadConfig(flags, {})).toMatchObject({ MIGRATE_ON_START: false, OUTBOX_ENSURE_SLOT: false });
    expect(loadConfig(flags, { SLUICE_ENV: 'production' })).toMatchObject({ MIGRATE_ON_START: false, OUTBOX_ENSURE_SLOT: false });
    expect(loadConfig(flags, { SLUICE_ENV: 'production', MIGRATE_ON_START: 'true' }).MIGRATE_ON_START).toBe(true);
  });
});
