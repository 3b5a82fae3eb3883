import { setTimeout as sleep } from 'node:timers/promises';
import { createTestDatabase, type TestDatabase } from '@sluice/testing';
import { createPool, withTransaction, type Pool } from './pool';

let db: TestDatabase;
let pool: Pool;

beforeAll(async () => {
  db = await createTestDatabase('pool');
  pool = createPool({ url: db.url, applicationName: 'pool-test', max: 2 });
});

afterAll(async () => {
  await pool?.end();
  await db?.drop();
});

describe('withTransaction', () => {
  it('regression: the server ending the connection between two statements (a PostgreSQL restart) fails the transaction instead of crashing the process', async () => {
    const killer = createPool({ url: db.url, applicationName: 'pool-test-killer', max: 1 });
    try {
      const outcome = await withTransaction(pool, async (client) => {
        const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
        await killer.query('SELECT pg_terminate_backend($1)', [rows[0]!.pid]);
        await sleep(200); // idle in the transaction while the server's FATAL arrives
        return 'committed';
      }).catch((err: unknown) => err);
      expect(outcome).toBeInstanceOf(Error);
      // The broken connection was not returned to the pool: the next transaction gets a working one.
      expect(await withTransaction(pool, async (c) => (await c.query<{ one: number }>('SELECT 1 AS one')).rows[0]!.one)).toBe(1);
    } finally {
      await killer.end();
    }
  });
});
