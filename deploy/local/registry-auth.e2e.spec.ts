import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { withDatabase } from '@sluice/db';
import { AvroEventCodec } from '@sluice/messaging';
import { walletCatalog } from '@sluice/schemas';
import { freePort, testEnv, uniqueName } from '@sluice/testing';

/**
 * A registry of its own (registry.sh with REGISTRY_AUTH=basic, its own port,
 * run directory and database), not the shared one: services may only look
 * schemas up, the release step registers them.
 */
const script = join(__dirname, 'registry.sh');
const runDir = mkdtempSync(join(tmpdir(), 'sluice-registry-auth-'));
const database = uniqueName('sluice_test_registry_auth').toLowerCase();
let env: NodeJS.ProcessEnv;
const pattern = `${uniqueName('regauth')}.\${routedByValue}`;
const urlOf = (user: string) => readFileSync(join(runDir, 'registry/auth', `${user}.url`), 'utf8').trim();
const codec = (url: string) => AvroEventCodec.connect(url, [walletCatalog], pattern);

beforeAll(async () => {
  env = {
    ...process.env,
    SLUICE_RUN_DIR: runDir,
    REGISTRY_PORT: String(await freePort()),
    REGISTRY_DB: database,
    REGISTRY_AUTH: 'basic',
  };
  execFileSync(script, ['start'], { env, stdio: 'inherit', timeout: 240_000 });
}, 250_000);

afterAll(async () => {
  execFileSync(script, ['stop'], { env, stdio: 'inherit' });
  const admin = new Client({ connectionString: withDatabase(testEnv.databaseUrl, 'postgres') });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`);
  await admin.end();
}, 60_000);

describe('the local registry with REGISTRY_AUTH=basic (no OIDC server)', () => {
  it('refuses a request without credentials', async () => {
    await expect(codec(`http://127.0.0.1:${env.REGISTRY_PORT}/apis/ccompat/v7`).lookupAll()).rejects.toThrow(/401/);
  });

  it('refuses to register with the services user (sr-readonly)', async () => {
    await expect(codec(urlOf('sluice-services')).registerAll()).rejects.toThrow(/403/);
    await expect(codec(urlOf('sluice-services')).lookupAll()).rejects.toMatchObject({ code: 'schema_not_found' });
  });

  it('registers with the release user and lets the services user look the ids up', async () => {
    const registered = await codec(urlOf('sluice-release')).registerAll();
    expect(await codec(urlOf('sluice-services')).lookupAll()).toEqual(registered);
  });
});
