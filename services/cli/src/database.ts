import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from 'pg';
import {
  createPool,
  databaseName,
  ensureRoles,
  grantRoles,
  quoteIdent,
  redactUrl,
  withDatabase,
  type DatabaseRole,
} from '@sluice/db';
import { DATABASE_ROLES, OWNER_ROLE, SERVICE_ROLES } from '@sluice/platform';

export const DATABASE_USAGE = `  db roles         as a superuser (DATABASE_URL): create the platform's roles, the database (owned by ${OWNER_ROLE.name})
                   and hand it every object in it; passwords from DB_ROLE_PASSWORDS_DIR/<role> when set
  migrate          as ${OWNER_ROLE.name} (DATABASE_URL): every service's migrations, the outbox's publication and slot,
                   the projections' live versions, then each service role's privileges`;

/** The services that own tables, in the order their migrations run (the command API's outbox before the relay's). */
const MIGRATING_SERVICES = ['command-api', 'outbox-relay', 'payments-worker', 'projector'] as const;

/** Reads DB_ROLE_PASSWORDS_DIR/<role> for each role that has such a file. */
function rolePasswords(dir: string | undefined, roles: readonly DatabaseRole[]): Map<string, string> {
  const out = new Map<string, string>();
  if (!dir) return out;
  for (const role of roles) {
    try {
      const password = readFileSync(join(dir, role.name), 'utf8').trim();
      if (password) out.set(role.name, password);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
  return out;
}

/**
 * Creates the roles and the platform's database, owned by the owner role.
 * A database that exists already (an earlier `make up` ran its migrations as
 * the superuser) is handed over: its schemas, tables, views, sequences and
 * publications get the owner role as their owner.
 */
export async function ensureDatabaseRoles(adminUrl: string, passwordsDir: string | undefined): Promise<void> {
  const name = databaseName(adminUrl);
  const owner = quoteIdent(OWNER_ROLE.name);
  const admin = new Client({ connectionString: withDatabase(adminUrl, 'postgres') });
  await admin.connect();
  try {
    await ensureRoles(admin, DATABASE_ROLES, rolePasswords(passwordsDir, DATABASE_ROLES));
    const { rowCount } = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (!rowCount) {
      await admin.query(`CREATE DATABASE ${quoteIdent(name)} OWNER ${owner}`).catch((err: { code?: string }) => {
        if (err.code !== '42P04') throw err;
      });
    }
    await admin.query(`ALTER DATABASE ${quoteIdent(name)} OWNER TO ${owner}`);
  } finally {
    await admin.end();
  }
  const db = new Client({ connectionString: adminUrl });
  await db.connect();
  try {
    const { rows } = await db.query<{ sql: string }>(
      `SELECT format('ALTER SCHEMA %I OWNER TO %I', nspname, $1::text) AS sql FROM pg_namespace
        WHERE nspname NOT LIKE 'pg\\_%' AND nspname <> 'information_schema' AND nspowner <> $1::regrole
       UNION ALL
       SELECT format('ALTER %s %I.%I OWNER TO %I',
                     CASE c.relkind WHEN 'v' THEN 'VIEW' WHEN 'S' THEN 'SEQUENCE' ELSE 'TABLE' END, n.nspname, c.relname, $1::text)
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'p', 'v', 'S') AND n.nspname NOT LIKE 'pg\\_%' AND n.nspname <> 'information_schema'
          AND c.relowner <> $1::regrole
          AND NOT (c.relkind = 'S' AND EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype IN ('a', 'i')))
       UNION ALL
       SELECT format('ALTER PUBLICATION %I OWNER TO %I', pubname, $1::text) FROM pg_publication WHERE pubowner <> $1::regrole`,
      [OWNER_ROLE.name],
    );
    for (const { sql } of rows) await db.query(sql);
  } finally {
    await db.end();
  }
}

/** Runs `node <service>/src/main.js migrate` of each service that owns tables, then grants the service roles. */
export async function migrateAll(
  ownerUrl: string,
  log: (line: string) => void,
  env: NodeJS.ProcessEnv = process.env,
): Promise<void> {
  for (const service of MIGRATING_SERVICES) {
    log(`migrating ${service} (${redactUrl(ownerUrl)})`);
    await runMigrateEntry(service, ownerUrl, env);
  }
  const pool = createPool({ url: ownerUrl, applicationName: 'sluice-migrate', max: 1 });
  try {
    await grantRoles(pool, Object.values(SERVICE_ROLES));
    log(
      `granted ${Object.values(SERVICE_ROLES)
        .map((r) => r.name)
        .join(', ')}`,
    );
  } finally {
    await pool.end();
  }
}

function runMigrateEntry(service: string, ownerUrl: string, env: NodeJS.ProcessEnv): Promise<void> {
  // Built beside this file in dist/; from the sources (tests), the build's copy.
  const entry = [
    join(__dirname, `../../${service}/src/main.js`),
    join(__dirname, `../../../dist/services/${service}/src/main.js`),
  ].find((path) => existsSync(path));
  if (!entry) return Promise.reject(new Error(`${service}'s main.js is missing: run npm run build`));
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--enable-source-maps', entry, 'migrate'], {
      stdio: 'inherit',
      env: { ...env, DATABASE_URL: ownerUrl, DATABASE_URL_FILE: '' },
    });
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${service} migrate exited with ${code}`))));
  });
}
