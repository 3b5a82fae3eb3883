import { applyMigrations, createPool, withTransaction, type Pool } from '@sluice/db';
import { createTestDatabase, type TestDatabase } from '@sluice/testing';
import { PROJECTOR_MIGRATIONS } from '../migrations';
import { advanceCheckpoints, loadPositions, lockCheckpoints, lockPartitionCheckpoints } from './checkpoints';

let db: TestDatabase;
let pool: Pool;
const TOPIC = 'outbox.event.wallet';
const WALLET = { projection: 'wallet', version: 1 };
const HISTORY = { projection: 'history', version: 2 };

beforeAll(async () => {
  db = await createTestDatabase('checkpoints');
  pool = createPool({ url: db.url, applicationName: 'checkpoints-int', max: 4 });
  await applyMigrations(pool, PROJECTOR_MIGRATIONS);
});

afterAll(async () => {
  await pool?.end();
  await db?.drop();
});

const offsets = async (ref: { projection: string; version: number }) =>
  new Map([...(await loadPositions(pool, ref, TOPIC))].map(([p, s]) => [p, s.nextOffset]));

describe('checkpoints of several partitions in one transaction', () => {
  it('creates the rows a partition has never had, at offset 0, and returns each partition its own', async () => {
    await pool.query(
      `INSERT INTO projection_checkpoints (projection, version, topic, partition, next_offset) VALUES ('wallet', 1, $1, 3, 40)`,
      [TOPIC],
    );
    const locked = await withTransaction(pool, (c) => lockPartitionCheckpoints(c, [WALLET, HISTORY], TOPIC, [3, 5]));
    expect([...locked.keys()]).toEqual([3, 5]);
    expect(locked.get(3)!.get('wallet/1')?.nextOffset).toBe(40n);
    expect(locked.get(3)!.get('history/2')?.nextOffset).toBe(0n);
    expect(locked.get(5)!.get('wallet/1')?.nextOffset).toBe(0n);
    expect(await offsets(HISTORY)).toEqual(
      new Map([
        [3, 0n],
        [5, 0n],
      ]),
    );
  });

  it('moves each partition past its own records in one statement and leaves the others', async () => {
    await withTransaction(pool, async (c) => {
      await lockPartitionCheckpoints(c, [WALLET], TOPIC, [3, 5, 7]);
      await advanceCheckpoints(c, TOPIC, [
        { ...WALLET, partition: 7, nextOffset: 12n, lagRecords: 0, lastRecordAt: new Date() },
        { ...WALLET, partition: 3, nextOffset: 41n, lagRecords: 2, lastRecordAt: null },
      ]);
    });
    expect(await offsets(WALLET)).toEqual(
      new Map([
        [3, 41n],
        [5, 0n],
        [7, 12n],
      ]),
    );
    const { rows } = await pool.query<{ lag_records: string }>(
      `SELECT lag_records::text FROM projection_checkpoints WHERE projection = 'wallet' AND topic = $1 AND partition = 3`,
      [TOPIC],
    );
    expect(rows[0]?.lag_records).toBe('2');
  });

  it("holds every locked partition's rows until commit: another transaction on one of them waits", async () => {
    const holder = await pool.connect();
    try {
      await holder.query('BEGIN');
      await lockPartitionCheckpoints(holder, [WALLET], TOPIC, [5, 7]);
      // A re-drive or a member that lost the partition, taking the lock of partition 7 alone.
      const waiting = withTransaction(pool, async (c) => {
        await c.query(`SET LOCAL lock_timeout = '300ms'`);
        return lockCheckpoints(c, [WALLET], TOPIC, 7);
      });
      await expect(waiting).rejects.toMatchObject({ code: '55P03' });
      await advanceCheckpoints(holder, TOPIC, [{ ...WALLET, partition: 7, nextOffset: 20n, lagRecords: 0, lastRecordAt: null }]);
      const after = withTransaction(pool, (c) => lockCheckpoints(c, [WALLET], TOPIC, 7));
      await holder.query('COMMIT');
      // Once the holder committed, the waiter sees what it wrote.
      expect((await after).get('wallet/1')?.nextOffset).toBe(20n);
    } finally {
      holder.release();
    }
  });
});
