import { createTestDatabase, type TestDatabase } from '@sluice/testing';
import { createPool, type Pool, type PoolClient } from './pool';
import { withPreparedStatements } from './prepared';

let db: TestDatabase;
let pool: Pool;
let connection: PoolClient;

beforeAll(async () => {
  db = await createTestDatabase('prepared');
  pool = createPool({ url: db.url, applicationName: 'prepared-int', max: 2 });
  connection = await pool.connect();
});

afterAll(async () => {
  connection?.release();
  await pool?.end();
  await db?.drop();
});

const prepared = async (label: string): Promise<string[]> =>
  (
    await connection.query<{ name: string }>('SELECT name FROM pg_prepared_statements WHERE name LIKE $1 ORDER BY name', [
      `sluice_${label}_%`,
    ])
  ).rows.map((r) => r.name);

describe('withPreparedStatements', () => {
  it('prepares a parameterised text once per connection and runs it by name; statements without values pass through', async () => {
    const client = withPreparedStatements(connection, 'once');
    for (const n of [1, 2, 3]) {
      const { rows } = await client.query<{ doubled: number }>('SELECT $1::int * 2 AS doubled', [n]);
      expect(rows[0]?.doubled).toBe(n * 2);
    }
    await client.query('SELECT 1');
    await client.query({ text: 'SELECT $1::int AS one', values: [1] });
    expect(await prepared('once')).toHaveLength(1);
    // Another statement text is another prepared statement.
    await client.query('SELECT $1::int * 3 AS tripled', [1]);
    expect(await prepared('once')).toHaveLength(2);
  });

  it('after a table changed shape under a prepared SELECT *, fails once and prepares the text again', async () => {
    const client = withPreparedStatements(connection, 'shape');
    await connection.query('CREATE TABLE shaped (id int PRIMARY KEY, a text)');
    await connection.query(`INSERT INTO shaped VALUES (1, 'x')`);
    const text = 'SELECT * FROM shaped WHERE id = $1';
    expect((await client.query(text, [1])).rows).toEqual([{ id: 1, a: 'x' }]);
    await connection.query(`ALTER TABLE shaped ADD COLUMN b text DEFAULT 'y'`);
    // The engine's transaction fails and is retried: the retry runs under a new name.
    await expect(client.query(text, [1])).rejects.toMatchObject({ code: '0A000' });
    expect((await client.query(text, [1])).rows).toEqual([{ id: 1, a: 'x', b: 'y' }]);
    expect(await prepared('shape')).toHaveLength(2);
  });

  it('after the connection lost its prepared statements (DEALLOCATE ALL), fails once and prepares again', async () => {
    const client = withPreparedStatements(connection, 'gone');
    const text = 'SELECT $1::text AS echo';
    expect((await client.query(text, ['a'])).rows).toEqual([{ echo: 'a' }]);
    await connection.query('DEALLOCATE ALL');
    await expect(client.query(text, ['b'])).rejects.toMatchObject({ code: '26000' });
    expect((await client.query(text, ['c'])).rows).toEqual([{ echo: 'c' }]);
  });
});
