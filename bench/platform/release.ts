import { spawn } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { databaseUrlAs, namespaceEnv, OWNER_ROLE, type PlatformNamespace } from '@sluice/platform';
import { localRegistryUrlFile, testEnv } from '@sluice/testing';

/**
 * What `make topics` and `make migrate` do before `make up` starts the
 * services, done for the bench's namespace with the build's own CLI: the event
 * topics, every service principal's ACLs, the database roles, every migration
 * with the outbox's slot and the grants, and the schemas registered by the
 * release user. Returns what every service then starts with, as platform.sh
 * gives it: TLS to PostgreSQL verified against the local CA, and, when the
 * registry has users, its read-only user and no registering at start.
 */
export async function releasePlatform(
  root: string,
  ns: PlatformNamespace,
  partitions: number,
  logFile: string,
  say: (line: string) => void,
): Promise<Record<string, string>> {
  const cli = join(root, 'dist/services/cli/src/main.js');
  if (!existsSync(cli)) throw new Error(`${cli} is missing: run npm run build in ${root}`);
  if (!existsSync(testEnv.postgresCaFile))
    throw new Error(`${testEnv.postgresCaFile} is missing: start PostgreSQL with deploy/local/postgres.sh start`);
  mkdirSync(dirname(logFile), { recursive: true });
  const env = {
    ...process.env,
    ...testEnv.kafkaEnv,
    ...namespaceEnv(ns),
    SLUICE_ENV: 'development',
    DATABASE_SSL_CA_FILE: testEnv.postgresCaFile,
    SCHEMA_REGISTRY_URL: testEnv.registryUrl,
    TOPIC_PARTITIONS: String(partitions),
  };
  const steps: [string, string[], Record<string, string>][] = [
    ['event topics', ['topics', 'apply'], {}],
    ['ACLs', ['acls', 'apply'], {}],
    ['database roles', ['db', 'roles'], { DATABASE_URL: ns.databaseUrl }],
    ['migrations', ['migrate'], { DATABASE_URL: databaseUrlAs(ns.databaseUrl, OWNER_ROLE.name) }],
    ['schemas', ['schemas', 'register'], {}],
  ];
  for (const [what, argv, extra] of steps) {
    say(`  release: ${what} (sluice ${argv.join(' ')})`);
    await runLogged(cli, argv, { ...env, ...extra }, logFile);
  }
  const servicesRegistry = localRegistryUrlFile('sluice-services');
  return {
    DATABASE_SSL_CA_FILE: testEnv.postgresCaFile,
    ...(servicesRegistry && { SCHEMA_REGISTRY_URL_FILE: servicesRegistry, SCHEMA_AUTO_REGISTER: 'false' }),
  };
}

function runLogged(entry: string, argv: string[], env: NodeJS.ProcessEnv, logFile: string): Promise<void> {
  const log = createWriteStream(logFile, { flags: 'a' });
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--enable-source-maps', entry, ...argv], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.pipe(log, { end: false });
    child.stderr.pipe(log, { end: false });
    child.once('error', reject);
    child.once('exit', (code) => {
      log.end();
      if (code === 0) resolve();
      else reject(new Error(`sluice ${argv.join(' ')} exited with ${code}; see ${logFile}`));
    });
  });
}
