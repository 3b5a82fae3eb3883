import { applyMigrations, createPool, type Pool } from '@sluice/db';
import { findWallet, walletProjection } from '@sluice/projection-wallet';
import { createTestDatabase, type TestDatabase } from '@sluice/testing';
import { PROJECTOR_MIGRATIONS } from '../migrations';
import { loadPositions } from './checkpoints';
import { loadHeads } from './heads';
import { ensureLiveVersion, listVersions } from './versions';

let db: TestDatabase;
let pool: Pool;
const WALLET = '01970000-0000-7000-8000-000000000001';

beforeAll(async () => {
  db = await createTestDatabase('versions');
  pool = createPool({ url: db.url, applicationName: 'versions-int', max: 4 });
});

afterAll(async () => {
  await pool?.end();
  await db?.drop();
});

describe('projection versions', () => {
  it('adopts a read model kept in public before versions existed as version 1, with its rows, positions and guard', async () => {
    // The layout the projector left before: the table and its journal in public, checkpoints per consumer group.
    await pool.query(`
      CREATE TABLE wallet_balances (
        wallet_id uuid PRIMARY KEY, currency char(3) NOT NULL, balance bigint NOT NULL, version integer NOT NULL,
        opened_at timestamptz NOT NULL, updated_at timestamptz NOT NULL, last_event_id uuid NOT NULL,
        projected_at timestamptz DEFAULT now() NOT NULL, held bigint DEFAULT 0 NOT NULL);
      CREATE TABLE __migrations_projection_wallet (id serial PRIMARY KEY, hash text NOT NULL, created_at bigint);
      INSERT INTO __migrations_projection_wallet (hash, created_at) VALUES ('a', 1795740044889), ('b', 1795741405822);
      INSERT INTO wallet_balances VALUES ('${WALLET}', 'EUR', 900, 4, now(), now(), '${WALLET}', now(), 100);`);
    await applyMigrations(pool, PROJECTOR_MIGRATIONS);
    await pool.query(`INSERT INTO projector_checkpoints (consumer_group, topic, partition, next_offset) VALUES
      ('old-group', 'outbox.event.wallet', 0, 17), ('old-group', 'outbox.event.wallet', 1, 4), ('other', 'outbox.event.wallet', 0, 99)`);

    const live = await ensureLiveVersion(pool, walletProjection, { consumerGroup: 'old-group', topic: 'outbox.event.wallet' });

    expect(live).toMatchObject({ version: 1, schema: 'proj_wallet_v1', state: 'live', origin: 'adopted' });
    // The view serves the adopted row, with the column the newer migration added.
    expect(await findWallet(pool, WALLET)).toMatchObject({ balance: 900, held: 100, available: 800, version: 4 });
    expect(await loadHeads(pool, '"proj_wallet_v1"', [WALLET])).toEqual(new Map([[WALLET, 4]]));
    const positions = await loadPositions(pool, { projection: 'wallet', version: 1 }, 'outbox.event.wallet');
    expect([...positions].map(([p, s]) => [p, s.nextOffset])).toEqual([
      [0, 17n],
      [1, 4n],
    ]);
  });

  it('on a second start, keeps the live version and applies only migrations it has not seen', async () => {
    const again = await ensureLiveVersion(pool, walletProjection, { consumerGroup: 'old-group', topic: 'outbox.event.wallet' });
    expect(again.version).toBe(1);
    expect((await listVersions(pool, 'wallet')).length).toBe(1);
    expect(await findWallet(pool, WALLET)).toMatchObject({ balance: 900 });
  });
});
