import { Client } from 'pg';
import { createPool, type Pool } from '@sluice/db';
import { createTestDatabase, uniqueName, type TestDatabase } from '@sluice/testing';
import { OutboxSlot } from './slot';

let db: TestDatabase;
let pool: Pool;

beforeAll(async () => {
  db = await createTestDatabase('slot');
  // The command API's pool: statements capped far below what slot creation may have to wait.
  pool = createPool({ url: db.url, applicationName: 'slot-test', max: 2, statementTimeoutMs: 300, pipeline: true });
  await pool.query('CREATE TABLE outbox (id uuid PRIMARY KEY, payload bytea)');
});

afterAll(async () => {
  await pool?.end();
  await db?.drop();
});

describe('OutboxSlot', () => {
  it('creates its slot while another transaction stays open longer than the pool statement timeout', async () => {
    const writer = new Client({ connectionString: db.url });
    await writer.connect();
    const slot = uniqueName('slot_busy').toLowerCase();
    try {
      // A transaction with an xid: the slot's snapshot cannot be built until it ends.
      await writer.query('BEGIN');
      await writer.query('SELECT txid_current()');
      const ensured = new OutboxSlot(pool, slot, uniqueName('pub').toLowerCase(), { schema: 'public', name: 'outbox' }).ensure();
      await new Promise((r) => setTimeout(r, 1_000));
      await writer.query('COMMIT');
      const state = await ensured;
      expect(state?.active).toBe(false);
      // The connection went back with the pool's own statement timeout.
      const { rows } = await pool.query<{ statement_timeout: string }>('SHOW statement_timeout');
      expect(rows[0]?.statement_timeout).toBe('300ms');
    } finally {
      await writer.end();
    }
  });
});
