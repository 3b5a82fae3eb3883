import { withVerifiedTls } from '@sluice/config';
import { applyMigrations, ensureRoles, grantRoles } from '@sluice/db';
import { uuidv7 } from '@sluice/core';
import { databaseUrlAs, SERVICE_ROLES } from '@sluice/platform';
import { testEnv, waitFor } from '@sluice/testing';
import { RELAY_MIGRATIONS } from './app';
import { RelayHarness } from './relay-harness';

const ROLE = SERVICE_ROLES['outbox-relay'];

describe('the outbox relay database role', () => {
  const h = new RelayHarness('wal');
  beforeAll(async () => {
    await h.setUp();
    await applyMigrations(h.pool, RELAY_MIGRATIONS);
    await ensureRoles(h.pool, [ROLE]);
    await grantRoles(h.pool, [ROLE]);
  });
  afterAll(() => h.tearDown());

  it('streams the outbox through logical replication into Kafka with its own role, over verify-full TLS', async () => {
    const url = withVerifiedTls(databaseUrlAs(h.db.url, ROLE.name), testEnv.postgresCaFile);
    const { app } = await h.startRelay({ DATABASE_URL: url, MIGRATE_ON_START: 'false', RELAY_HEARTBEAT_INTERVAL_MS: '200' });
    await waitFor('streaming', () => app.relay.state === 'streaming');
    const before = await h.count();
    const wallet = uuidv7();
    await h.commit([h.deposited(wallet, 2), h.deposited(wallet, 3), h.deposited(wallet, 4)]);
    await waitFor('three records in Kafka', async () => (await h.count()) - before === 3, { timeoutMs: 20_000 });
    // The walsender serving the slot runs as the relay's role, encrypted.
    const { rows } = await h.pool.query<{ usename: string; ssl: boolean }>(
      `SELECT r.usename, s.ssl FROM pg_stat_replication r JOIN pg_stat_ssl s ON s.pid = r.pid WHERE r.application_name LIKE 'sluice-outbox-relay%'`,
    );
    expect(rows).toEqual([{ usename: ROLE.name, ssl: true }]);
    // Its checkpoint is written with the role too.
    const { rows: cp } = await h.pool.query<{ n: string }>(
      'SELECT count(*)::text AS n FROM relay_checkpoints WHERE slot_name = $1',
      [h.env.OUTBOX_SLOT_NAME],
    );
    expect(cp[0]!.n).toBe('1');
  });
});
