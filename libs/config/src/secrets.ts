import { readFileSync } from 'node:fs';

/**
 * Where a service runs. Local development (the default) accepts the
 * development defaults of secrets; production refuses to start while a
 * secret is missing or still one of them.
 */
export const DEPLOYMENT_ENVIRONMENTS = ['development', 'production'] as const;
export type DeploymentEnvironment = (typeof DEPLOYMENT_ENVIRONMENTS)[number];

/** Says what is wrong with a secret's value in production, or undefined when it may be used. */
export type SecretRule = (value: string | undefined) => string | undefined;

/** Values that ship in this repository (config defaults, deploy/local, deploy/k8s): public, never secret. */
export const DEVELOPMENT_SECRET_VALUES: readonly string[] = ['sluice-local-psp-webhook-secret'];

/** Placeholders in the deployment manifests start so; they are to be replaced, never used. */
const PLACEHOLDER = /^change-?me/i;

const required: SecretRule = (value) => {
  if (value === undefined || value === '') return 'is required in production';
  if (DEVELOPMENT_SECRET_VALUES.includes(value)) return 'is the public development default; set a secret of your own';
  if (PLACEHOLDER.test(value)) return 'is still the manifest placeholder; set a secret of your own';
  return undefined;
};

/** Optional secrets: whatever is set must not be a placeholder. */
const placeholderRule: SecretRule = (value) => {
  if (value === undefined) return undefined;
  let password = value;
  try {
    password = decodeURIComponent(new URL(value).password) || '';
  } catch {
    // not a URL: the value itself
  }
  return PLACEHOLDER.test(password) ? 'still holds the manifest placeholder; set a secret of your own' : undefined;
};

/** The superuser names a service must not connect as. */
const SUPERUSERS = new Set(['postgres', 'root']);

/**
 * A production DATABASE_URL names a service's own role, with a password, over
 * TLS that verifies the server (sslmode=verify-full, or DATABASE_SSL_CA_FILE).
 */
export const databaseUrlRule: SecretRule = (value) => {
  if (value === undefined || value === '') return 'is required in production';
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return 'is not a URL';
  }
  const user = decodeURIComponent(url.username);
  if (!user || SUPERUSERS.has(user)) return `must name the service's own database role, not ${user || 'the default user'}`;
  if (!url.password) return 'has no password';
  if (PLACEHOLDER.test(decodeURIComponent(url.password))) return 'has the manifest placeholder for its password';
  if (url.searchParams.get('sslmode') !== 'verify-full') {
    return 'must verify the server over TLS: add sslmode=verify-full&sslrootcert=<CA file>, or set DATABASE_SSL_CA_FILE';
  }
  return undefined;
};

/**
 * The URL with TLS that verifies the server's certificate against `caFile`
 * and its host name (node-postgres reads sslmode and sslrootcert from the
 * URL, for pools and replication connections alike). A URL that already asks
 * for another sslmode is refused rather than silently changed.
 */
export function withVerifiedTls(databaseUrl: string, caFile: string): string {
  const url = new URL(databaseUrl);
  const mode = url.searchParams.get('sslmode');
  if (mode !== null && mode !== 'verify-full') {
    throw new Error(`DATABASE_SSL_CA_FILE needs sslmode=verify-full, but DATABASE_URL has sslmode=${mode}`);
  }
  const root = url.searchParams.get('sslrootcert');
  if (root !== null && root !== caFile) throw new Error('DATABASE_URL names another sslrootcert than DATABASE_SSL_CA_FILE');
  url.searchParams.set('sslmode', 'verify-full');
  url.searchParams.set('sslrootcert', caFile);
  return url.toString();
}

/**
 * Every secret setting of the platform and its production rule. A setting X
 * may also be given as a file, X_FILE (a mounted secret), whose content,
 * trimmed, is X's value.
 */
export const SECRET_SETTINGS: Readonly<Record<string, SecretRule>> = {
  DATABASE_URL: databaseUrlRule,
  PSP_WEBHOOK_SECRET: required,
  /** May carry the registry's basic credentials as user info; a registry without authentication is allowed. */
  SCHEMA_REGISTRY_URL: placeholderRule,
  /** The Kafka principal's SCRAM password (KAFKA_SASL_PASSWORD_FILE: a mounted Secret); required with SASL by the Kafka settings. */
  KAFKA_SASL_PASSWORD: placeholderRule,
};

/**
 * Replaces every X_FILE of a secret setting with X, read from the file.
 * Setting both is a mistake (which one wins?) and reported, as is a file that
 * cannot be read or is empty.
 */
export function readSecretFiles(
  source: Record<string, string | undefined>,
  secrets: Iterable<string>,
  problems: string[],
): Record<string, string | undefined> {
  const out = { ...source };
  for (const name of secrets) {
    const file = source[`${name}_FILE`];
    if (file === undefined || file === '') continue;
    delete out[`${name}_FILE`];
    if (source[name] !== undefined && source[name] !== '') {
      problems.push(`${name}: set either ${name} or ${name}_FILE, not both`);
      continue;
    }
    try {
      const value = readFileSync(file, 'utf8').trim();
      if (value === '') problems.push(`${name}_FILE: ${file} is empty`);
      else out[name] = value;
    } catch (err) {
      problems.push(`${name}_FILE: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
    }
  }
  return out;
}

/** The production problems of the secrets a configuration holds (settings it does not have are not its concern). */
export function productionSecretProblems(config: Record<string, unknown>, rules: Readonly<Record<string, SecretRule>>): string[] {
  const problems: string[] = [];
  for (const [name, rule] of Object.entries(rules)) {
    if (!(name in config)) continue;
    const value = config[name];
    const problem = rule(typeof value === 'string' ? value : undefined);
    if (problem) problems.push(`${name}: ${problem}`);
  }
  return problems;
}
