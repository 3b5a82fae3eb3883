import { setTimeout as sleep } from 'node:timers/promises';
import { createTestDatabase, type TestDatabase } from '@sluice/testing';
import type { Socket } from 'node:net';
import { commitBehind, createPool, deferUntilCommit, withTransaction, type Pool, type PoolClient } from './pool';

let db: TestDatabase;
let pool: Pool;

beforeAll(async () => {
  db = await createTestDatabase('pool');
  pool = createPool({ url: db.url, applicationName: 'pool-test', max: 2 });
  await pool.query('CREATE TABLE notes (id int PRIMARY KEY, body text NOT NULL)');
});

afterAll(async () => {
  await pool?.end();
  await db?.drop();
});

/** One transaction's answer: the pool serves it (its connections were not left broken). */
function servesNext(p: Pool): Promise<number> {
  return withTransaction(p, async (c) => (await c.query<{ one: number }>('SELECT 1 AS one')).rows[0]!.one);
}

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
      expect(await servesNext(pool)).toBe(1);
    } finally {
      await killer.end();
    }
  });

  it('sends deferred statements with the COMMIT, in order, and commits both', async () => {
    await withTransaction(pool, async (client) => {
      await client.query("INSERT INTO notes VALUES (1, 'kept'), (2, 'deleted at commit')");
      deferUntilCommit(client, 'DELETE FROM notes WHERE id = 2');
      deferUntilCommit(client, "UPDATE notes SET body = 'updated at commit' WHERE id = 1");
    });
    const { rows } = await pool.query<{ id: number; body: string }>('SELECT id, body FROM notes ORDER BY id');
    expect(rows).toEqual([{ id: 1, body: 'updated at commit' }]);
  });

  it('a deferred statement that fails commits nothing of the transaction, and the connection serves the next one', async () => {
    const outcome = await withTransaction(pool, async (client) => {
      await client.query("INSERT INTO notes VALUES (10, 'never committed')");
      deferUntilCommit(client, "INSERT INTO notes VALUES (10, 'duplicate key')");
    }).catch((err: unknown) => err);
    expect(outcome).toMatchObject({ code: '23505' });
    expect((await pool.query('SELECT 1 FROM notes WHERE id = 10')).rowCount).toBe(0);
    expect(await servesNext(pool)).toBe(1);
  });

  it('a rolled-back transaction drops its deferred statements; outside withTransaction deferring is refused', async () => {
    await withTransaction(pool, async (client) => {
      deferUntilCommit(client, "INSERT INTO notes VALUES (20, 'from a rolled-back transaction')");
      throw new Error('abort');
    }).catch(() => undefined);
    await withTransaction(pool, async (client) => void (await client.query('SELECT 1')));
    expect((await pool.query('SELECT 1 FROM notes WHERE id = 20')).rowCount).toBe(0);
    const client = await pool.connect();
    try {
      expect(() => deferUntilCommit(client, 'SELECT 1')).toThrow('inside withTransaction');
    } finally {
      client.release();
    }
  });

  describe('in a pipelined pool', () => {
    let piped: Pool;
    beforeAll(() => {
      piped = createPool({ url: db.url, applicationName: 'pool-test-pipelined', max: 1, pipeline: true });
    });
    afterAll(() => piped.end());

    /** Counts the writes on the client's socket (each is a system call and a packet to the server). */
    function countWrites(client: PoolClient): { count: number } {
      const stream = (client as unknown as { connection: { stream: Socket } }).connection.stream as Socket & {
        _write: (...a: unknown[]) => void;
        _writev: (...a: unknown[]) => void;
      };
      const counter = { count: 0 };
      for (const method of ['_write', '_writev'] as const) {
        const original = stream[method].bind(stream);
        stream[method] = (...args: unknown[]) => {
          counter.count++;
          original(...args);
        };
      }
      return counter;
    }

    it('sends BEGIN with the first statement and COMMIT with the last: a two-statement transaction is two writes', async () => {
      let writes = 0;
      await withTransaction(piped, async (client) => {
        const counter = countWrites(client);
        await client.query("INSERT INTO notes VALUES (30, 'first statement')");
        deferUntilCommit(client, "UPDATE notes SET body = 'updated at commit' WHERE id = 30");
        const last = client.query("INSERT INTO notes VALUES (31, 'last statement')");
        commitBehind(client);
        await last;
        writes = counter.count;
      });
      expect(writes).toBe(2);
      const { rows } = await pool.query<{ id: number; body: string }>(
        'SELECT id, body FROM notes WHERE id IN (30, 31) ORDER BY id',
      );
      expect(rows).toEqual([
        { id: 30, body: 'updated at commit' },
        { id: 31, body: 'last statement' },
      ]);
    });

    it('a last statement that fails commits nothing: not the first statement (it ran after BEGIN), not the deferred one', async () => {
      const outcome = await withTransaction(piped, async (client) => {
        await client.query("INSERT INTO notes VALUES (40, 'first statement')");
        deferUntilCommit(client, "INSERT INTO notes VALUES (41, 'deferred')");
        const last = client.query("INSERT INTO notes VALUES (40, 'duplicate key')");
        commitBehind(client);
        await last;
      }).catch((err: unknown) => err);
      expect(outcome).toMatchObject({ code: '23505' });
      expect((await pool.query('SELECT 1 FROM notes WHERE id IN (40, 41)')).rowCount).toBe(0);
      // The pool's one connection was rolled back and serves the next transaction.
      expect(await servesNext(piped)).toBe(1);
    });

    it('a callback still running after its transaction timed out fails without an unhandled rejection (regression: the command API exited with "Client was closed and is not queryable")', async () => {
      const unhandled: unknown[] = [];
      const onUnhandled = (reason: unknown) => unhandled.push(reason);
      process.on('unhandledRejection', onUnhandled);
      try {
        let lateError: unknown;
        const late = new Promise<void>((resolve) => {
          const outcome = withTransaction(
            piped,
            async (client) => {
              await client.query("INSERT INTO notes VALUES (60, 'before the deadline')");
              // A busy event loop: the deadline passes, the client is released and ended under the callback.
              await new Promise((r) => setTimeout(r, 300));
              const last = client.query("INSERT INTO notes VALUES (61, 'after the deadline')");
              try {
                commitBehind(client, last);
              } catch (err) {
                lateError = err;
                resolve();
                throw err;
              }
              await last;
            },
            { timeoutMs: 100 },
          );
          outcome.catch(() => undefined);
        });
        await late;
        expect(String(lateError)).toMatch(/commitBehind needs a client inside withTransaction/);
        await new Promise((r) => setTimeout(r, 200));
        expect(unhandled).toEqual([]);
        expect((await pool.query('SELECT 1 FROM notes WHERE id IN (60, 61)')).rowCount).toBe(0);
      } finally {
        process.off('unhandledRejection', onUnhandled);
      }
    });

    it('without commitBehind the transaction commits after the callback, as in any pool', async () => {
      await withTransaction(piped, async (client) => {
        await client.query("INSERT INTO notes VALUES (50, 'committed after the callback')");
      });
      expect((await pool.query('SELECT 1 FROM notes WHERE id = 50')).rowCount).toBe(1);
    });
  });
});

describe('createPool', () => {
  it('keeps `min` connections open past the idle timeout and closes the rest', async () => {
    const name = 'pool-test-min';
    const backends = async () =>
      (
        await pool.query<{ n: number }>(
          'SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND application_name = $1',
          [name],
        )
      ).rows[0]!.n;
    const kept = createPool({ url: db.url, applicationName: name, max: 3, min: 2, idleTimeoutMs: 50 });
    try {
      // Three transactions at once open three connections.
      const clients = await Promise.all([kept.connect(), kept.connect(), kept.connect()]);
      clients.forEach((c) => c.release());
      expect(kept.totalCount).toBe(3);
      await sleep(400);
      expect(kept.totalCount).toBe(2);
      expect(await backends()).toBe(2);
      expect(await servesNext(kept)).toBe(1);
    } finally {
      await kept.end();
    }
  });
});
