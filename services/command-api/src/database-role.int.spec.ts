import type { FastifyInstance } from 'fastify';
import { Client } from 'pg';
import { loadConfig, withVerifiedTls } from '@sluice/config';
import { createPool, ensureRoles, grantRoles, quoteIdent } from '@sluice/db';
import { databaseUrlAs, OWNER_ROLE, SERVICE_ROLES } from '@sluice/platform';
import { createTestDatabase, testEnv, uniqueName, type TestDatabase } from '@sluice/testing';
import { migrateCommandApi, type CommandApi } from './app';
import { commandApiConfig } from './config';
import { startCommandApi, testCommandApiEnv } from './test-support/command-api-fixture';

const ROLE = SERVICE_ROLES['command-api'];

let db: TestDatabase;
let api: CommandApi;
let http: FastifyInstance;
let asRole: Client;

/** The test database's URL as `role`, over TLS verifying the server. */
const urlAs = (role: string) => withVerifiedTls(databaseUrlAs(db.url, role), testEnv.postgresCaFile);

beforeAll(async () => {
  db = await createTestDatabase('cmd_role');
  // What `sluice db roles` does: the roles, and the database handed to the owner role.
  const admin = new Client({ connectionString: db.url });
  await admin.connect();
  try {
    await ensureRoles(admin, [OWNER_ROLE, ROLE]);
    await admin.query(`ALTER DATABASE ${quoteIdent(db.name)} OWNER TO ${quoteIdent(OWNER_ROLE.name)}`);
  } finally {
    await admin.end();
  }
  // What `sluice migrate` does, as the owner: the tables, the publication and the slot, then the grants.
  const env = testCommandApiEnv(db, 'cmd_role');
  const owner = createPool({ url: urlAs(OWNER_ROLE.name), applicationName: 'cmd-role-migrate', max: 2 });
  try {
    await migrateCommandApi(loadConfig(commandApiConfig, { ...env, DATABASE_URL: urlAs(OWNER_ROLE.name) }), owner);
    await grantRoles(owner, [ROLE]);
  } finally {
    await owner.end();
  }
  ({ api, http } = await startCommandApi(
    { ...env, DATABASE_URL: urlAs(ROLE.name), MIGRATE_ON_START: 'false', OUTBOX_ENSURE_SLOT: 'false' },
    'cmd-role',
  ));
  asRole = new Client({ connectionString: urlAs(ROLE.name) });
  await asRole.connect();
});

afterAll(async () => {
  await asRole?.end();
  await api?.close();
  await db?.drop();
});

const denied = (sql: string) => expect(asRole.query(sql)).rejects.toMatchObject({ code: '42501' });

describe('the command API database role', () => {
  it('opens a wallet and deposits into it with its own role, over TLS', async () => {
    const post = (url: string, body: unknown) =>
      http.inject({
        method: 'POST',
        url,
        headers: { 'content-type': 'application/json', 'idempotency-key': uniqueName('k') },
        payload: JSON.stringify(body),
      });
    const opened = await post('/v1/wallets', { currency: 'EUR' });
    expect(opened.statusCode).toBe(201);
    const { walletId } = opened.json<{ walletId: string }>();
    const deposit = await post(`/v1/wallets/${walletId}/deposits`, { amount: 900, currency: 'EUR' });
    expect(deposit.statusCode).toBe(201);
    const { rows } = await api.pool.query<{ ssl: boolean; user: string }>(
      'SELECT ssl, current_user AS user FROM pg_stat_ssl WHERE pid = pg_backend_pid()',
    );
    expect(rows[0]).toEqual({ ssl: true, user: ROLE.name });
  });

  it('cannot drop or alter its tables, nor create new ones', async () => {
    await denied('DROP TABLE wallets');
    await denied('ALTER TABLE wallets ADD COLUMN note text');
    await denied('TRUNCATE outbox');
    await denied('CREATE TABLE sneaky (id int)');
  });

  it('cannot drop the outbox publication nor create a replication slot', async () => {
    await denied('DROP PUBLICATION sluice_outbox');
    await expect(asRole.query(`SELECT pg_create_logical_replication_slot('sneaky', 'pgoutput')`)).rejects.toMatchObject({
      code: '42501',
    });
  });
});
