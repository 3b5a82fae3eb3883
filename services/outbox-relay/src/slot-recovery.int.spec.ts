import { uuidv7 } from '@sluice/core';
import { withTransaction } from '@sluice/db';
import { createLogger, createMetricsRegistry, type Registry } from '@sluice/observability';
import { OutboxSlot } from '@sluice/outbox';
import type { WalletEvent } from '@sluice/schemas';
import { waitFor, type ConsumedRecord } from '@sluice/testing';
import { createRelayMetrics } from './metrics';
import { RelayHarness } from './relay-harness';
import { OutboxPruner } from './wal/outbox-pruner';

/**
 * A lost replication slot (dropped by an operator, or gone with a failover to a standby without
 * failover slots) loses no event: the outbox keeps its rows until the relay has published them,
 * and the relay republishes what the table holds before it streams from a new slot.
 */
describe('outbox relay, lost replication slot (real PostgreSQL and Kafka)', () => {
  const h = new RelayHarness('wal');
  beforeAll(() => h.setUp({ RELAY_PRUNE_INTERVAL_MS: '200', RELAY_MAX_BATCH_RECORDS: '20' }));
  afterEach(() => h.stopRelays());
  afterAll(() => h.tearDown());

  /** Events spread over a few wallets, each wallet's versions counting up in commit order. */
  class Events {
    readonly wallets = Array.from({ length: 5 }, () => uuidv7());
    readonly byWallet = new Map<string, string[]>(this.wallets.map((w) => [w, []]));
    readonly ids: string[] = [];
    private n = 0;

    next(count: number): WalletEvent[] {
      return Array.from({ length: count }, () => {
        const w = this.wallets[this.n++ % this.wallets.length]!;
        const mine = this.byWallet.get(w)!;
        const event = h.deposited(w, 2 + mine.length);
        mine.push(event.data.eventId);
        this.ids.push(event.data.eventId);
        return event;
      });
    }

    /** Commits `count` events, `perTxn` to a transaction. */
    async commit(count: number, perTxn = 5): Promise<void> {
      for (let i = 0; i < count; i += perTxn) await h.commit(this.next(Math.min(perTxn, count - i)));
    }

    /** Each wallet's events in the order of their first occurrence on Kafka (consumers dedupe by id) match commit order. */
    expectOrderKept(records: ConsumedRecord[]): void {
      const sorted = [...records].sort((x, y) => x.partition - y.partition || Number(BigInt(x.offset) - BigInt(y.offset)));
      const first = new Map<string, string[]>();
      const seen = new Set<string>();
      for (const r of sorted) {
        const id = r.message.headers?.id?.toString() ?? '';
        if (seen.has(id)) continue;
        seen.add(id);
        const key = r.message.key!.toString();
        first.set(key, [...(first.get(key) ?? []), id]);
      }
      for (const [w, ids] of this.byWallet) expect(first.get(w)).toEqual(ids);
    }
  }

  async function counter(registry: Registry, name: string, labels: Record<string, string> = {}): Promise<number> {
    const metric = await registry.getSingleMetric(name)?.get();
    const value = metric?.values.find((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l));
    return value?.value ?? 0;
  }

  it('republishes what was committed while its slot was gone before streaming from a new one, each key in order', async () => {
    const events = new Events();
    const first = await h.startRelay();
    await waitFor('streaming', () => first.app.relay.state === 'streaming');
    await events.commit(20);
    await h.recordsWith(events.ids);
    await waitFor('published rows pruned', async () => (await h.retained()) === 0);
    await first.app.close();

    await events.commit(20); // in the old slot's WAL only
    await h.dropSlot();
    await events.commit(20); // in no slot's WAL at all
    expect(await h.retained()).toBe(40);

    const second = await h.startRelay();
    await waitFor('streaming again', () => second.app.relay.state === 'streaming', { timeoutMs: 30_000 });
    await events.commit(20); // from the new slot
    const records = await h.recordsWith(events.ids);
    events.expectOrderKept(records);
    expect(await counter(second.registry, 'sluice_relay_slot_recoveries_total', { reason: 'missing' })).toBe(1);
    expect(await counter(second.registry, 'sluice_relay_republished_records_total')).toBe(40);
    await waitFor('the outbox pruned behind the new slot', async () => (await h.retained()) === 0);
    expect(await counter(second.registry, 'sluice_relay_outbox_pruned_total')).toBeGreaterThanOrEqual(60);
  });

  it('finds its slot dropped while it streams and recovers it, losing nothing committed meanwhile', async () => {
    const events = new Events();
    // Reconnects slow enough for the drop to win the race against them.
    const relay = await h.startRelay({ RELAY_RECONNECT_INITIAL_MS: '400', RELAY_RECONNECT_MAX_MS: '800' });
    await waitFor('streaming', () => relay.app.relay.state === 'streaming');
    await events.commit(10);
    await h.recordsWith(events.ids);

    let writing = true;
    const writer = (async () => {
      while (writing) await events.commit(2, 2);
    })();
    await new Promise((r) => setTimeout(r, 300));
    await h.dropSlot();
    await new Promise((r) => setTimeout(r, 1_000));
    writing = false;
    await writer;

    const records = await h.recordsWith(events.ids);
    events.expectOrderKept(records);
    expect(await counter(relay.registry, 'sluice_relay_slot_recoveries_total', { reason: 'missing' })).toBe(1);
    expect(relay.app.relay.state).toBe('streaming');
  });

  it('treats a slot recreated ahead of its checkpoint as lost: republishes, then streams from it', async () => {
    const events = new Events();
    const first = await h.startRelay();
    await events.commit(10);
    await h.recordsWith(events.ids);
    await first.app.close();

    await events.commit(10);
    await h.dropSlot();
    await events.commit(10);
    // As the command API does at start-up when it finds no slot (or the relay, before a crash mid-recovery).
    await new OutboxSlot(h.pool, h.env.OUTBOX_SLOT_NAME!, h.env.OUTBOX_PUBLICATION_NAME!, {
      schema: 'public',
      name: 'outbox',
    }).ensure();
    await events.commit(10); // in the recreated slot's stream, and republished too

    const second = await h.startRelay();
    const records = await h.recordsWith(events.ids);
    events.expectOrderKept(records);
    expect(await counter(second.registry, 'sluice_relay_slot_recoveries_total', { reason: 'recreated' })).toBe(1);
  });

  it('prunes only rows whose transaction a confirmed mark saw: a lower seq committed later stays', async () => {
    const metrics = createRelayMetrics(createMetricsRegistry('prune-test', false));
    const pruner = new OutboxPruner(
      { table: { schema: 'public', name: 'outbox' }, intervalMs: 1, batch: 2 },
      h.pool,
      metrics,
      createLogger('prune-test', 'warn'),
    );
    const everything = 2n ** 62n;
    const present = async (ids: string[]) =>
      (await h.pool.query<{ id: string }>('SELECT id FROM outbox WHERE id = ANY($1::uuid[])', [ids])).rows.map((r) => r.id);
    const w = uuidv7();

    // A transaction takes its seq, then commits only after the mark: out of seq order.
    const late = h.deposited(w, 2);
    const lateClient = await h.pool.connect();
    await lateClient.query('BEGIN');
    await h.writer.append(lateClient, [h.asOutbox(late)]);
    const published = [h.deposited(w, 3), h.deposited(w, 4), h.deposited(w, 5)];
    await h.commit(published);
    await pruner.run(0n); // takes the mark
    await lateClient.query('COMMIT');
    lateClient.release();
    const after = [h.deposited(w, 6), h.deposited(w, 7)];
    await withTransaction(h.pool, (c) =>
      h.writer.append(
        c,
        after.map((e) => h.asOutbox(e)),
      ),
    );
    const { rows } = await h.pool.query<{ id: string; seq: string }>(
      'SELECT id, seq::text FROM outbox WHERE id = ANY($1::uuid[])',
      [[late.data.eventId, published[0]!.data.eventId]],
    );
    const seqOf = (id: string) => BigInt(rows.find((r) => r.id === id)!.seq);
    expect(seqOf(late.data.eventId)).toBeLessThan(seqOf(published[0]!.data.eventId));

    const ids = [late, ...published, ...after].map((e) => e.data.eventId);
    expect(await pruner.run(everything)).toBeGreaterThanOrEqual(3);
    expect((await present(ids)).sort()).toEqual([late, ...after].map((e) => e.data.eventId).sort());

    // The next mark covers them, but deletes nothing until the relay has confirmed its position.
    expect(await pruner.run(0n)).toBe(0);
    expect(await present(ids)).toHaveLength(3);
    await pruner.run(everything);
    expect(await present(ids)).toEqual([]);
    expect((await metrics.pruned.get()).values[0]?.value).toBeGreaterThanOrEqual(6);
  });
});
