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

const required: SecretRule = (value) => {
  if (value === undefined || value === '') return 'is required in production';
  if (DEVELOPMENT_SECRET_VALUES.includes(value)) return 'is the public development default; set a secret of your own';
  return undefined;
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
  return undefined;
};

/**
 * Every secret setting of the platform and its production rule. A setting X
 * may also be given as a file, X_FILE (a mounted secret), whose content,
 * trimmed, is X's value.
 */
export const SECRET_SETTINGS: Readonly<Record<string, SecretRule>> = {
  DATABASE_URL: databaseUrlRule,
  PSP_WEBHOOK_SECRET: required,
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
export function productionSecretProblems(
  config: Record<string, unknown>,
  rules: Readonly<Record<string, SecretRule>>,
): string[] {
  const problems: string[] = [];
  for (const [name, rule] of Object.entries(rules)) {
    if (!(name in config)) continue;
    const value = config[name];
    const problem = rule(typeof value === 'string' ? value : undefined);
    if (problem) problems.push(`${name}: ${problem}`);
  }
  return problems;
}
