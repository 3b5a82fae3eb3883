import { Client } from 'pg';
import { withVerifiedTls } from '@sluice/config';
import { createKafka } from '@sluice/messaging';
import { createLogger } from '@sluice/observability';
import { databaseUrlAs, OWNER_ROLE } from '@sluice/platform';
import { createTestDatabase, testEnv, uniqueName, type TestDatabase } from '@sluice/testing';
import { ensureDatabaseRoles, migrateAll } from './database';

let db: TestDatabase;
let admin: Client;
const id = uniqueName('cli_migrate').toLowerCase();
const env: NodeJS.ProcessEnv = {
  ...process.env,
  DATABASE_SSL_CA_FILE: testEnv.postgresCaFile,
  ...testEnv.kafkaEnv,
  OUTBOX_SLOT_NAME: id,
  OUTBOX_PUBLICATION_NAME: id,
  OUTBOX_TOPIC_PATTERN: `${id}.\${routedByValue}`,
  PROJECTOR_GROUP_ID: id,
  LOG_LEVEL: 'warn',
};

beforeAll(async () => {
  db = await createTestDatabase('cli_roles');
  admin = new Client({ connectionString: db.url });
  await admin.connect();
  // What an earlier `make up` left: a table the superuser owns.
  await admin.query('CREATE TABLE legacy (id int)');
  await ensureDatabaseRoles(db.url, undefined);
  await migrateAll(withVerifiedTls(databaseUrlAs(db.url, OWNER_ROLE.name), testEnv.postgresCaFile), () => undefined, env);
}, 60_000);

afterAll(async () => {
  await admin?.end();
  await db?.drop();
  const kafkaAdmin = createKafka({
    ...testEnv.kafka,
    clientId: 'cli-roles-test',
    logger: createLogger('t', 'silent'),
  }).admin();
  await kafkaAdmin.connect();
  const topics = (await kafkaAdmin.listTopics()).filter((t) => t.startsWith(id));
  if (topics.length > 0) await kafkaAdmin.deleteTopics({ topics });
  await kafkaAdmin.disconnect();
});

const one = async (sql: string, params: unknown[] = []) => (await admin.query(sql, params)).rows[0] as Record<string, unknown>;
const may = (role: string, table: string, privilege: string) =>
  one('SELECT has_table_privilege($1, $2, $3) AS ok', [role, table, privilege]).then((r) => r.ok);

describe('sluice db roles', () => {
  it('creates the roles without superuser, REPLICATION only for the owner and the relay', async () => {
    const { rows } = await admin.query<{ rolname: string; rolsuper: boolean; rolreplication: boolean; rolcreaterole: boolean }>(
      `SELECT rolname, rolsuper, rolreplication, rolcreaterole FROM pg_roles WHERE rolname LIKE 'sluice\\_%' ORDER BY rolname`,
    );
    expect(rows.filter((r) => r.rolsuper || r.rolcreaterole)).toEqual([]);
    expect(rows.filter((r) => r.rolreplication).map((r) => r.rolname)).toEqual(['sluice_outbox_relay', 'sluice_owner']);
  });

  it('hands the database and what an earlier run left in it to the owner role', async () => {
    expect(await one('SELECT datdba::regrole::text AS owner FROM pg_database WHERE datname = current_database()')).toEqual({
      owner: OWNER_ROLE.name,
    });
    expect(await one(`SELECT tableowner FROM pg_tables WHERE tablename = 'legacy'`)).toEqual({ tableowner: OWNER_ROLE.name });
  });
});

describe('sluice migrate, as the owner role', () => {
  it("creates every service's tables, owned by the owner, and the outbox's slot", async () => {
    const { rows } = await admin.query<{ tableowner: string }>(
      `SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')`,
    );
    expect(rows).toEqual([{ tableowner: OWNER_ROLE.name }]);
    expect(await one('SELECT count(*)::int AS n FROM pg_replication_slots WHERE slot_name = $1', [id])).toEqual({ n: 1 });
  });

  it('grants each service role its own tables and nothing of the others', async () => {
    expect(await may('sluice_payments_worker', 'payment_sagas', 'INSERT')).toBe(true);
    expect(await may('sluice_payments_worker', 'wallets', 'SELECT')).toBe(false);
    expect(await may('sluice_projector', 'proj_wallet_v1.wallet_balances', 'UPDATE')).toBe(true);
    expect(await may('sluice_projector', 'wallets', 'SELECT')).toBe(false);
    expect(await may('sluice_query_api', 'wallet_balances', 'SELECT')).toBe(true);
    expect(await may('sluice_query_api', 'wallet_balances', 'INSERT')).toBe(false);
    expect(await may('sluice_outbox_relay', 'outbox', 'SELECT')).toBe(true);
    expect(await may('sluice_outbox_relay', 'wallets', 'SELECT')).toBe(false);
    expect(await may('sluice_command_api', 'outbox', 'UPDATE')).toBe(false);
    expect(await may('sluice_bonus_service', 'wallets', 'SELECT')).toBe(false);
  });

  it('gives no service role the right to create in the database or its schemas', async () => {
    for (const role of [
      'sluice_command_api',
      'sluice_outbox_relay',
      'sluice_projector',
      'sluice_query_api',
      'sluice_payments_worker',
    ]) {
      expect(await one(`SELECT has_database_privilege($1, current_database(), 'CREATE') AS ok`, [role])).toEqual({ ok: false });
      expect(await one(`SELECT has_schema_privilege($1, 'public', 'CREATE') AS ok`, [role])).toEqual({ ok: false });
      expect(await one(`SELECT has_schema_privilege($1, 'proj_wallet_v1', 'CREATE') AS ok`, [role])).toEqual({ ok: false });
    }
  });
});
