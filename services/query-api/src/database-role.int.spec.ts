import type { AddressInfo } from 'node:net';
import { Client } from 'pg';
import { uuidv7 } from '@sluice/core';
import { loadConfig } from '@sluice/config';
import { createPool, ensureRoles, grantRoles, type Pool } from '@sluice/db';
import { routeTopic } from '@sluice/messaging';
import { createLogger, createMetricsRegistry } from '@sluice/observability';
import { databaseUrlAs, SERVICE_ROLES } from '@sluice/platform';
import { upsertWalletViews } from '@sluice/projection-wallet';
import { createTestDatabase, testEnv, testIssuer, uniqueName, type TestDatabase } from '@sluice/testing';
import { buildQueryApi, type QueryApi } from './app';
import { queryApiConfig } from './config';
import { ReadModelFixture } from './test-support/read-model-fixture';

const ROLE = SERVICE_ROLES['query-api'];
const WALLET = uuidv7();

let db: TestDatabase;
let admin: Pool;
let api: QueryApi;
let asRole: Client;

beforeAll(async () => {
  db = await createTestDatabase('query_role');
  admin = createPool({ url: db.url, applicationName: 'query-role-admin', max: 2 });
  const topic = routeTopic(`${uniqueName('qr')}.\${routedByValue}`, 'wallet');
  const fixture = new ReadModelFixture(admin, topic);
  await fixture.install();
  const at = new Date('2025-06-01T10:00:00.000Z');
  await fixture.write(
    'wallet',
    (ctx) =>
      upsertWalletViews(ctx, [
        {
          walletId: WALLET,
          currency: 'EUR',
          owner: 'role-test',
          balance: 700,
          held: 0,
          version: 1,
          openedAt: at,
          updatedAt: at,
          lastEventId: uuidv7(),
        },
      ]),
    [{ key: WALLET, version: 1 }],
  );
  await ensureRoles(admin, [ROLE]);
  await grantRoles(admin, [ROLE]);
  // The service's own role over TLS that verifies the server, as in production.
  const roleUrl = `${databaseUrlAs(db.url, ROLE.name)}?sslmode=verify-full&sslrootcert=${encodeURIComponent(testEnv.postgresCaFile)}`;
  asRole = new Client({ connectionString: roleUrl });
  await asRole.connect();
  api = await buildQueryApi(
    loadConfig(queryApiConfig, {
      SLUICE_ENV: 'development',
      ...testIssuer().env(),
      DATABASE_URL: roleUrl,
      OUTBOX_TOPIC_PATTERN: `${topic.split('.')[0]}.\${routedByValue}`,
    }),
    createLogger('query-role-test', 'silent'),
    createMetricsRegistry('query-role-test', false),
  );
  await api.app.listen(0, '127.0.0.1');
});

afterAll(async () => {
  await api?.close();
  await asRole?.end();
  await admin?.end();
  await db?.drop();
});

const denied = (sql: string) => expect(asRole.query(sql)).rejects.toMatchObject({ code: '42501' });

describe('the query API database role', () => {
  it('serves a wallet read with its own role', async () => {
    const { port } = api.app.getHttpServer().address() as AddressInfo;
    const res = await fetch(`http://127.0.0.1:${port}/v1/wallets/${WALLET}`, {
      headers: await testIssuer().bearer('role-test', 'wallets:read'),
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ walletId: WALLET, balance: 700 });
  });

  it('reads the read model', async () => {
    const { rows } = await asRole.query<{ n: string }>('SELECT count(*) AS n FROM wallet_balances');
    expect(rows[0]!.n).toBe('1');
  });

  it('cannot insert, update or delete the read model, through its views or in its schema', async () => {
    await denied(`INSERT INTO wallet_balances (wallet_id) VALUES ('${uuidv7()}')`);
    await denied('UPDATE wallet_balances SET balance = 0');
    await denied('DELETE FROM wallet_balances');
    await denied('DELETE FROM proj_wallet_v1.wallet_balances');
    await denied('UPDATE projection_checkpoints SET next_offset = 0');
  });

  it('cannot create or drop anything', async () => {
    await denied('CREATE TABLE sneaky (id int)');
    await denied('DROP VIEW wallet_balances');
  });
});
