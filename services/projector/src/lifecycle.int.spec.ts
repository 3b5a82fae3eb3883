import { Registry } from 'prom-client';
import { applyMigrations, createPool, purgeStatements, Purger, type Pool } from '@sluice/db';
import { createTestDatabase, type TestDatabase } from '@sluice/testing';
import { projectorPurges } from './lifecycle';
import { PROJECTOR_MIGRATIONS } from './migrations';

let db: TestDatabase;
let pool: Pool;
let purgePool: Pool;
const specs = projectorPurges({ PARKED_RETENTION_HOURS: 30 * 24 });

beforeAll(async () => {
  db = await createTestDatabase('projector_retention');
  pool = createPool({ url: db.url, applicationName: 'projector-retention-test', max: 2 });
  purgePool = createPool({ url: db.url, applicationName: 'projector-retention-purge', max: 1 });
  await applyMigrations(pool, PROJECTOR_MIGRATIONS);
});

afterAll(async () => {
  await purgePool?.end();
  await pool?.end();
  await db?.drop();
});

/** Parked records at offsets [from, from + n), in `state`, resolved `resolvedDays` ago (null: not resolved). */
async function park(from: number, n: number, state: string, resolvedDays: number | null): Promise<void> {
  await pool.query(
    `INSERT INTO projection_parked (projection, version, consumer_group, topic, partition, "offset", state, error_code, error_reason,
                                    first_failed_at, resolved_at, resolution)
     SELECT 'wallet', 1, 'g', 't', 0, o, $3, 'refused', 'test', now() - interval '90 days',
            CASE WHEN $4::int IS NULL THEN NULL ELSE now() - make_interval(days => $4::int) END,
            CASE WHEN $4::int IS NULL THEN NULL ELSE 'redriven' END
       FROM generate_series($1::bigint, $1::bigint + $2 - 1) o`,
    [from, n, state, resolvedDays],
  );
}

describe('projector retention', () => {
  it('deletes records resolved more than 30 days ago and keeps dead, held and recently resolved ones', async () => {
    await park(0, 3, 'resolved', 31);
    await park(100, 2, 'resolved', 29);
    await park(200, 2, 'dead', null);
    await park(300, 1, 'held', null);

    const purger = new Purger({
      pool: purgePool,
      specs,
      settings: { intervalMs: 60_000, batchRows: 100, batchPauseMs: 0, lockTimeoutMs: 200, statementTimeoutMs: 2_000 },
      registry: new Registry(),
    });
    const [run] = await purger.runOnce();

    expect(run).toMatchObject({ table: 'projection_parked', outcome: 'done', rows: 3 });
    const { rows } = await pool.query<{ offset: string; state: string }>(
      'SELECT "offset"::text AS offset, state FROM projection_parked ORDER BY "offset"',
    );
    expect(rows).toEqual([
      { offset: '100', state: 'resolved' },
      { offset: '101', state: 'resolved' },
      { offset: '200', state: 'dead' },
      { offset: '201', state: 'dead' },
      { offset: '300', state: 'held' },
    ]);
  });

  it('finds resolved records through the index of the retention migration', async () => {
    await park(10_000, 5_000, 'dead', null);
    await pool.query('ANALYZE projection_parked');
    const sql = purgeStatements(specs[0]!).deleteBatch.replace('$1', '1000').replace('$2', '100');
    const { rows } = await pool.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${sql}`);
    expect(rows.map((r) => r['QUERY PLAN']).join('\n')).toContain('projection_parked_resolved_idx');
  });
});
