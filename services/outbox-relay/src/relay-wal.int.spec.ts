import { setTimeout as sleep } from 'node:timers/promises';
import { uuidv7 } from '@sluice/core';
import { parseLsn } from '@sluice/outbox';
import { waitFor } from '@sluice/testing';
import { RelayHarness } from './relay-harness';

/** What only the WAL mode promises: its own checkpoint, slot checks and heartbeats. */
describe('outbox relay, WAL mode specifics (real PostgreSQL and Kafka)', () => {
  const h = new RelayHarness('wal');
  beforeAll(() => h.setUp({ RELAY_MAX_BATCH_RECORDS: '100', RELAY_MAX_RECORDS_IN_FLIGHT: '400' }));
  afterEach(() => h.stopRelays());
  afterAll(() => h.tearDown());

  const slotSql = (q: string) => h.pool.query(q, [h.env.OUTBOX_SLOT_NAME]);

  it('after the replication connection dies mid-transaction, resumes inside it by (commit LSN, index): no record twice', async () => {
    const { app } = await h.startRelay();
    await waitFor('streaming', () => app.relay.state === 'streaming');
    const before = await h.count();
    const w = uuidv7();
    const big = Array.from({ length: 4000 }, (_, i) => h.deposited(w, 2 + i));
    await h.commit(big);
    // Kill the walsender once part of the transaction is in Kafka but not all of it.
    await waitFor('part of the transaction in Kafka', async () => (await h.count()) - before >= 800, { intervalMs: 5 });
    const { rows } = await slotSql(
      'SELECT pg_terminate_backend(active_pid) AS killed FROM pg_replication_slots WHERE slot_name = $1 AND active_pid IS NOT NULL',
    );
    expect(rows[0]?.killed).toBe(true);
    const published = (await h.count()) - before;
    expect(published).toBeLessThan(big.length);

    await waitFor('the whole transaction in Kafka', async () => (await h.count()) - before >= big.length, { timeoutMs: 30_000 });
    await sleep(500);
    expect((await h.count()) - before).toBe(big.length);
    const { rows: cp } = await h.pool.query<{ idx: number }>('SELECT idx FROM relay_checkpoints WHERE slot_name = $1', [
      h.env.OUTBOX_SLOT_NAME,
    ]);
    expect(cp[0]!.idx).toBe(big.length - 1);
  });

  it('keeps the slot moving with heartbeats while the outbox is quiet and the database busy', async () => {
    await h.pool.query('CREATE TABLE IF NOT EXISTS busy (id bigserial primary key, v text)');
    const { app } = await h.startRelay({ RELAY_HEARTBEAT_INTERVAL_MS: '200' });
    await waitFor('streaming', () => app.relay.state === 'streaming');
    const { rows: start } = await slotSql(
      'SELECT confirmed_flush_lsn::text AS lsn FROM pg_replication_slots WHERE slot_name = $1',
    );
    for (let i = 0; i < 50; i++) await h.pool.query(`INSERT INTO busy (v) SELECT repeat('x', 1000) FROM generate_series(1, 100)`);
    const { rows: now } = await h.pool.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn');
    await waitFor('the slot to confirm past the busy writes', async () => {
      const { rows } = await slotSql('SELECT confirmed_flush_lsn::text AS lsn FROM pg_replication_slots WHERE slot_name = $1');
      return parseLsn((rows[0] as { lsn: string }).lsn) >= parseLsn(now[0]!.lsn);
    });
    expect(parseLsn((start[0] as { lsn: string }).lsn)).toBeLessThan(parseLsn(now[0]!.lsn));
  });

  it('while idle, writes its checkpoint about once per status interval, not once per keepalive (its own write moves the WAL)', async () => {
    const { app } = await h.startRelay({ RELAY_STATUS_INTERVAL_MS: '200', RELAY_HEARTBEAT_INTERVAL_MS: '0' });
    await waitFor('streaming', () => app.relay.state === 'streaming');
    await h.commit([h.deposited(uuidv7(), 3)]);
    // The earlier tests' rows pruned first: their deletes are WAL too.
    await waitFor('the outbox pruned', async () => (await h.retained()) === 0);
    await sleep(500);
    // Each checkpoint write is a transaction of its own: the WAL written while nothing else
    // happens shows how often the relay writes (a few per second here; a loop, thousands).
    const walNow = async () =>
      parseLsn((await h.pool.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn')).rows[0]!.lsn);
    const before = await walNow();
    await sleep(2_000);
    expect(Number((await walNow()) - before)).toBeLessThan(256 * 1024);
    // ...and the slot still follows the WAL: other databases' writes do not pile up behind it.
    await h.pool.query('CREATE TABLE IF NOT EXISTS idle_noise (v text)');
    await h.pool.query(`INSERT INTO idle_noise SELECT repeat('x', 100) FROM generate_series(1, 1000)`);
    const { rows: now } = await h.pool.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn');
    await waitFor('the slot to confirm past the idle writes', async () => {
      const { rows } = await slotSql('SELECT confirmed_flush_lsn::text AS lsn FROM pg_replication_slots WHERE slot_name = $1');
      return parseLsn((rows[0] as { lsn: string }).lsn) >= parseLsn(now[0]!.lsn);
    });
  });
  // A lost, invalidated or recreated slot: slot-recovery.int.spec.ts.
});
