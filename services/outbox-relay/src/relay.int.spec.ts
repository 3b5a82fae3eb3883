import { setTimeout as sleep } from 'node:timers/promises';
import { uuidv7 } from '@sluice/core';
import { withTransaction } from '@sluice/db';
import { partitionForKey } from '@sluice/messaging';
import { parseLsn } from '@sluice/outbox';
import { consumeRecords, waitFor } from '@sluice/testing';
import { RelayHarness } from './relay-harness';

// The same behaviour is promised in both modes, so both run the same tests.
describe.each(['wal', 'polling'] as const)('outbox relay in %s mode (real PostgreSQL and Kafka)', (mode) => {
  const h = new RelayHarness(mode);
  beforeAll(() => h.setUp());
  afterEach(() => h.stopRelays());
  afterAll(() => h.tearDown());

  it('publishes each committed outbox row with its key, Java partition, payload bytes and headers', async () => {
    const { app } = await h.startRelay();
    const wallets = [uuidv7(), uuidv7(), uuidv7()];
    const events = wallets.flatMap((w) => [h.deposited(w, 2), h.deposited(w, 3)]);
    const traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    await h.commit(events.slice(0, 2), traceparent);
    await h.commit(events.slice(2));
    const { rows } = await h.pool.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn');
    const committedUpTo = parseLsn(rows[0]!.lsn);

    const records = await consumeRecords(h.kafka, h.topic, events.length);
    expect(records).toHaveLength(events.length);
    for (const event of events) {
      const r = records.find((x) => x.message.headers?.id?.toString() === event.data.eventId);
      expect(r).toBeDefined();
      expect(r!.message.key!.toString()).toBe(event.data.walletId);
      expect(r!.partition).toBe(partitionForKey(event.data.walletId, 12));
      expect(r!.message.value!.equals(h.codec.encode('wallet', event))).toBe(true);
      expect(r!.message.headers!.type!.toString()).toBe('FundsDeposited');
      expect(await h.codec.decode(r!.message.value!)).toMatchObject({ type: 'FundsDeposited', data: event.data });
    }
    expect(records.filter((x) => x.message.headers?.traceparent?.toString() === traceparent)).toHaveLength(2);

    if (mode === 'wal') {
      // The WAL position is confirmed once Kafka has the records.
      await waitFor('the slot to confirm the committed position', async () => {
        const { rows: slot } = await h.pool.query<{ lsn: string }>(
          'SELECT confirmed_flush_lsn::text AS lsn FROM pg_replication_slots WHERE slot_name = $1',
          [h.env.OUTBOX_SLOT_NAME],
        );
        return parseLsn(slot[0]!.lsn) >= committedUpTo;
      });
    } else {
      // Published rows are deleted.
      await waitFor('the outbox table to empty', async () => (await h.pool.query('SELECT 1 FROM outbox')).rowCount === 0);
    }
    await app.close();
  });

  it('resumes after a restart without republishing what Kafka acknowledged', async () => {
    const w = uuidv7();
    const first = [h.deposited(w, 2), h.deposited(w, 3)];
    const second = [h.deposited(w, 4), h.deposited(w, 5), h.deposited(w, 6)];
    const before = await h.count();

    const a = await h.startRelay();
    await h.commit(first);
    await waitFor('first events in Kafka', async () => (await h.count()) >= before + first.length);
    await a.app.close();

    await h.commit(second);
    const b = await h.startRelay();
    await waitFor('second events in Kafka', async () => (await h.count()) >= before + first.length + second.length);
    await sleep(500); // room for a duplicate to show up before counting
    expect(await h.count()).toBe(before + first.length + second.length);
    await b.app.close();
  });

  it('keeps per-key order through a large transaction past the in-flight cap, and never publishes rolled-back rows', async () => {
    const before = await h.count();
    const wallets = Array.from({ length: 20 }, () => uuidv7());
    const big = Array.from({ length: 3000 }, (_, i) =>
      h.deposited(wallets[i % wallets.length]!, 2 + Math.floor(i / wallets.length)),
    );
    const rolledBack = h.deposited(uuidv7(), 2);
    await expect(
      withTransaction(h.pool, async (client) => {
        await h.writer.append(client, [h.asOutbox(rolledBack)]);
        throw new Error('abort');
      }),
    ).rejects.toThrow('abort');

    const { app, registry } = await h.startRelay({
      RELAY_MAX_RECORDS_IN_FLIGHT: '200',
      RELAY_MAX_BATCH_RECORDS: '50',
      RELAY_POLL_BATCH: '50',
    });
    let maxInFlight = 0;
    const sampler = setInterval(() => {
      void h.gauge(registry, 'sluice_relay_records_in_flight').then((v) => (maxInFlight = Math.max(maxInFlight, v || 0)));
    }, 2);
    await h.commit(big);
    const records = await consumeRecords(h.kafka, h.topic, before + big.length, 60_000);
    clearInterval(sampler);
    const fresh = records.filter((r) => wallets.includes(r.message.key!.toString()));
    expect(fresh).toHaveLength(big.length);
    expect(records.some((r) => r.message.headers?.id?.toString() === rolledBack.data.eventId)).toBe(false);
    for (const w of wallets) {
      const mine = fresh
        .filter((r) => r.message.key!.toString() === w)
        .sort((x, y) => Number(BigInt(x.offset) - BigInt(y.offset)));
      const versions = await Promise.all(
        mine.map(async (r) => ((await h.codec.decode(r.message.value!)).data as { version: number }).version),
      );
      expect(versions).toEqual([...versions].sort((x, y) => x - y));
      expect(new Set(versions).size).toBe(versions.length);
    }
    // Bounded memory: reading stops at the cap. The frames of the socket read that crossed it are
    // still handled (one read is at most 64 KiB, a few hundred of these records), so that is the slack.
    expect(maxInFlight).toBeGreaterThan(0);
    expect(maxInFlight).toBeLessThanOrEqual(200 + 300);
    await app.close();
  });

  it('runs one relay at a time: a standby takes over within seconds when the leader goes', async () => {
    const a = await h.startRelay();
    await waitFor('a to lead', () => a.app.relay.state === 'streaming');
    const b = await h.startRelay();
    await sleep(500);
    expect(b.app.relay.state).toBe('standby');
    expect(await h.gauge(b.registry, 'sluice_relay_leader')).toBe(0);

    const w = uuidv7();
    const before = await h.count();
    await a.app.close();
    const handedOverAt = Date.now();
    await waitFor('b to lead', () => b.app.relay.state === 'streaming', { timeoutMs: 5_000 });
    expect(Date.now() - handedOverAt).toBeLessThan(5_000);
    await h.commit([h.deposited(w, 2)]);
    await waitFor('b to publish', async () => (await h.count()) === before + 1);
    await b.app.close();
  });
});
