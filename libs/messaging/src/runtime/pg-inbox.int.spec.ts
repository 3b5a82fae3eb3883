import { applyMigrations, createPool, type Pool } from '@sluice/db';
import { createTestDatabase, type TestDatabase } from '@sluice/testing';
import { INBOX_MIGRATIONS, pgInbox } from './pg-inbox';

let db: TestDatabase;
let pool: Pool;

beforeAll(async () => {
  db = await createTestDatabase('pginbox');
  pool = createPool({ url: db.url, applicationName: 'pg-inbox-test', max: 2 });
  await applyMigrations(pool, INBOX_MIGRATIONS);
});

afterAll(async () => {
  await pool?.end();
  await db?.drop();
});

describe('pgInbox', () => {
  it('claims an id once per consumer: the second claim finds it handled', async () => {
    const inbox = pgInbox(pool, 'c1');
    expect([...(await inbox.transaction((tx) => inbox.claim(tx, ['a', 'b'])))].sort()).toEqual(['a', 'b']);
    expect([...(await inbox.transaction((tx) => inbox.claim(tx, ['b', 'c'])))]).toEqual(['c']);
    expect([...(await pgInbox(pool, 'c2').transaction((tx) => pgInbox(pool, 'c2').claim(tx, ['a'])))]).toEqual(['a']);
  });

  it('keeps no claim of a transaction that rolled back', async () => {
    const inbox = pgInbox(pool, 'c3');
    await expect(
      inbox.transaction(async (tx) => {
        await inbox.claim(tx, ['x']);
        throw new Error('the effect failed');
      }),
    ).rejects.toThrow('the effect failed');
    expect([...(await inbox.transaction((tx) => inbox.claim(tx, ['x'])))]).toEqual(['x']);
  });
});
