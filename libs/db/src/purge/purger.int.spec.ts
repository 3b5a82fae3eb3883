import { setTimeout as sleep } from 'node:timers/promises';
import { Registry } from 'prom-client';
import { createTestDatabase, metricValue, type TestDatabase } from '@sluice/testing';
import { createPool, type Pool } from '../pool';
import { purgeStatements, type PurgeSpec } from './purge-spec';
import { Purger, type PurgeSettings } from './purger';

const HOUR_MS = 3_600_000;

let db: TestDatabase;
let pool: Pool;
/** The purge's own pool, as a service gives it one. */
let purgePool: Pool;

const settings: PurgeSettings = {
  intervalMs: 60_000,
  batchRows: 100,
  batchPauseMs: 0,
  lockTimeoutMs: 200,
  statementTimeoutMs: 2_000,
};

/** Tasks table: a row may go 24 h after it was created, once done. */
const tasks: PurgeSpec = { table: 'tasks', timeColumn: 'created_at', finished: "state = 'done'", windowMs: 24 * HOUR_MS };

beforeAll(async () => {
  db = await createTestDatabase('purge');
  pool = createPool({ url: db.url, applicationName: 'purge-test', max: 8 });
  purgePool = createPool({ url: db.url, applicationName: 'purge-test-purger', max: 1 });
  await pool.query(`CREATE TABLE tasks (id bigint PRIMARY KEY, state text NOT NULL, note text, created_at timestamptz NOT NULL)`);
  await pool.query(`CREATE INDEX tasks_done_idx ON tasks (created_at) WHERE state = 'done'`);
});

afterAll(async () => {
  await purgePool?.end();
  await pool?.end();
  await db?.drop();
});

beforeEach(async () => {
  await pool.query('TRUNCATE tasks');
});

/** Inserts ids [from, from + n) in the given state, created `ageHours` ago. */
async function insertTasks(from: number, n: number, state: string, ageHours: number): Promise<void> {
  await pool.query(
    `INSERT INTO tasks (id, state, created_at)
     SELECT g, $3, now() - make_interval(hours => $4) FROM generate_series($1::bigint, $1::bigint + $2 - 1) g`,
    [from, n, state, ageHours],
  );
}

async function count(where = 'true'): Promise<number> {
  const { rows } = await pool.query<{ n: string }>(`SELECT count(*)::text AS n FROM tasks WHERE ${where}`);
  return Number(rows[0]!.n);
}

function purger(registry = new Registry(), overrides: Partial<PurgeSettings> = {}): Purger {
  return new Purger({ pool: purgePool, specs: [tasks], settings: { ...settings, ...overrides }, registry });
}

describe('Purger', () => {
  it('deletes finished rows past the window and keeps newer and unfinished ones', async () => {
    await insertTasks(1, 30, 'done', 30); // past the window: go
    await insertTasks(101, 20, 'done', 20); // within it: stay
    await insertTasks(201, 10, 'open', 300); // old but not finished: stay

    const [run] = await purger().runOnce();

    expect(run).toMatchObject({ table: 'tasks', outcome: 'done', rows: 30 });
    expect(await count()).toBe(30);
    expect(await count("state = 'open'")).toBe(10);
    expect(await count("state = 'done' AND created_at < now() - interval '24 hours'")).toBe(0);
  });

  it('deletes in batches of at most batchRows', async () => {
    await insertTasks(1, 1_050, 'done', 48);

    const [run] = await purger().runOnce();

    // Ten full batches, one of 50, and the empty one that ends the run.
    expect(run).toMatchObject({ outcome: 'done', rows: 1_050, batches: 12 });
    expect(await count()).toBe(0);
  });

  it('deletes by a TID scan of the rows its sub-select locked, found through the time column index', async () => {
    await insertTasks(1, 5_000, 'done', 48);
    await insertTasks(10_001, 50_000, 'done', 1);
    await pool.query('ANALYZE tasks');
    const { rows } = await pool.query<{ 'QUERY PLAN': string }>(
      `EXPLAIN ${purgeStatements(tasks).deleteBatch}`.replace('$1', '1000').replace('$2', '100'),
    );
    const plan = rows.map((r) => r['QUERY PLAN']).join('\n');
    expect(plan).toContain('Tid Scan');
    expect(plan).toContain('LockRows');
    expect(plan).toContain('Index Scan using tasks_done_idx');
  });

  it('reports rows, runs, the oldest waiting row and the window as metrics', async () => {
    await insertTasks(1, 5, 'done', 30);
    await insertTasks(11, 2, 'done', 10);
    const registry = new Registry();

    await purger(registry).runOnce();

    const text = await registry.metrics();
    expect(metricValue(text, 'sluice_purge_rows_total')).toBe(5);
    expect(text).toContain('sluice_purge_runs_total{table="tasks",outcome="done"} 1');
    expect(metricValue(text, 'sluice_purge_window_seconds')).toBe(24 * 3600);
    // The oldest row left is 10 h old.
    expect(metricValue(text, 'sluice_purge_oldest_row_age_seconds')).toBeGreaterThan(10 * 3600 - 60);
    expect(metricValue(text, 'sluice_purge_oldest_row_age_seconds')).toBeLessThan(10 * 3600 + 60);
  });

  it('leaves a table to the replica holding its advisory lock', async () => {
    await insertTasks(1, 10, 'done', 30);
    const other = await pool.connect();
    try {
      await other.query('SELECT pg_advisory_lock(hashtext($1))', [purgeStatements(tasks).lockName]);
      const [run] = await purger().runOnce();
      expect(run).toMatchObject({ outcome: 'skipped', rows: 0 });
      expect(await count()).toBe(10);
    } finally {
      await other.query('SELECT pg_advisory_unlock_all()');
      other.release();
    }
  });

  it('skips a row the hot path holds locked instead of waiting for it', async () => {
    await insertTasks(1, 10, 'done', 30);
    const hot = await pool.connect();
    try {
      await hot.query('BEGIN');
      await hot.query('SELECT * FROM tasks WHERE id = 1 FOR UPDATE');
      const started = Date.now();
      const [run] = await purger().runOnce();
      expect(Date.now() - started).toBeLessThan(1_500);
      expect(run).toMatchObject({ outcome: 'done', rows: 9 });
    } finally {
      await hot.query('ROLLBACK');
      hot.release();
    }
    expect(await count()).toBe(1);
  });

  it('gives up within its lock timeout behind a table lock (a migration) and counts the failure', async () => {
    await insertTasks(1, 10, 'done', 30);
    const registry = new Registry();
    const ddl = await pool.connect();
    try {
      await ddl.query('BEGIN');
      await ddl.query('LOCK TABLE tasks IN ACCESS EXCLUSIVE MODE');
      const started = Date.now();
      const [run] = await purger(registry).runOnce();
      expect(Date.now() - started).toBeLessThan(1_500);
      expect(run?.outcome).toBe('failed');
      expect((run?.error as { code?: string } | undefined)?.code).toBe('55P03'); // lock_not_available
    } finally {
      await ddl.query('ROLLBACK');
      ddl.release();
    }
    expect(await registry.metrics()).toContain('sluice_purge_runs_total{table="tasks",outcome="failed"} 1');
    // The failed connection was closed, its lock with it: the next run purges.
    const [next] = await purger().runOnce();
    expect(next).toMatchObject({ outcome: 'done', rows: 10 });
  });

  it('does not hold up hot-path inserts and updates on the same table for more than a short bound', async () => {
    await insertTasks(1, 20_000, 'done', 48);
    await pool.query('ANALYZE tasks');
    const p = purger(new Registry(), { batchRows: 500, batchPauseMs: 5 });
    let purging = true;
    const purge = p.runOnce().finally(() => (purging = false));

    // The hot path: updates of rows the purge is deleting, and inserts of new rows, one at a time.
    const latencies: number[] = [];
    let id = 1_000_000;
    while (purging) {
      const started = performance.now();
      await pool.query("UPDATE tasks SET note = 'touched' WHERE id = $1", [1 + Math.floor(Math.random() * 20_000)]);
      await pool.query("INSERT INTO tasks (id, state, created_at) VALUES ($1, 'open', now())", [id++]);
      latencies.push(performance.now() - started);
    }
    const [run] = await purge;

    expect(run).toMatchObject({ outcome: 'done', rows: 20_000 });
    expect(latencies.length).toBeGreaterThan(5);
    // A statement waits at most for one batch's transaction (a few milliseconds for 500 rows);
    // the bound is generous for a shared two-core machine.
    expect(Math.max(...latencies)).toBeLessThan(1_000);
    expect(await count("state = 'open'")).toBe(id - 1_000_000);
  });

  it('stops between batches on stop() and releases its lock', async () => {
    await insertTasks(1, 5_000, 'done', 48);
    const runs: string[] = [];
    const p = new Purger({
      pool: purgePool,
      specs: [tasks],
      settings: { ...settings, batchRows: 50, batchPauseMs: 100 },
      registry: new Registry(),
      onRun: (run) => runs.push(run.outcome),
    });
    p.start();
    await sleep(300);
    const stopping = Date.now();
    await p.stop();

    expect(Date.now() - stopping).toBeLessThan(1_000);
    expect(runs).toEqual(['stopped']);
    const left = await count();
    expect(left).toBeGreaterThan(0);
    expect(left).toBeLessThan(5_000);
    // This database's advisory locks only: other tests' and services' locks live in theirs.
    const { rows } = await pool.query<{ n: string }>(
      "SELECT count(*)::text AS n FROM pg_locks WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
    );
    expect(rows[0]!.n).toBe('0');
  });
});
