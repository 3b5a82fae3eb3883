import { uuidv7 } from '@sluice/core';
import { partitionForKey } from '@sluice/messaging';
import { findWallet } from '@sluice/projection-wallet';
import { readTransactions } from '@sluice/projection-transactions';
import { findWithdrawal } from '@sluice/projection-withdrawals';
import { consumeRecords, waitFor } from '@sluice/testing';
import { ProjectorHarness, metric, type Running } from '../test-support/harness';
import { completed, deposited, opened, requested, submitted } from '../test-support/events';
import { decodeRecords, rawRecord } from './records';
import { PartitionApplier } from './partition-applier';
import { LiveTargets } from './targets';
import { LagMonitor } from './lag-monitor';
import { ProjectorMetrics } from './metrics';
import { createMetricsRegistry } from '@sluice/observability';

let h: ProjectorHarness;

beforeAll(async () => {
  h = await ProjectorHarness.create('projector');
});

afterAll(async () => {
  await h?.close();
});

async function wallet(
  walletId: string,
): Promise<{ balance: number; held: number; available: number; version: number } | undefined> {
  const w = await findWallet(h.pool, walletId);
  return w && { balance: w.balance, held: w.held, available: w.available, version: w.version };
}

async function readModel(): Promise<unknown[]> {
  const { rows } = await h.pool.query('SELECT * FROM wallet_balances ORDER BY wallet_id');
  const { rows: history } = await h.pool.query('SELECT * FROM wallet_transactions ORDER BY wallet_id, version');
  const { rows: withdrawals } = await h.pool.query('SELECT * FROM withdrawal_status ORDER BY withdrawal_id');
  return [rows, history, withdrawals];
}

describe('ProjectorEngine against Kafka and PostgreSQL', () => {
  const groupId = uniqueGroup('main');
  const a = uuidv7();
  const b = uuidv7();
  const c = uuidv7();
  const w = uuidv7();
  let snapshot: unknown[];
  let running: Running;

  function uniqueGroup(name: string): string {
    return `${name}_${Math.random().toString(36).slice(2, 8)}`;
  }

  it('folds produced events into all three read models and checkpoints every partition of each', async () => {
    const aV2 = deposited(a, 2, 100, 100);
    // The second aV2 is what the relay repeats after a crash: a duplicate at a later offset.
    await h.produce([
      opened(a),
      aV2,
      deposited(a, 3, 50, 150),
      aV2,
      requested(a, 4, w, 120, 150, 120),
      submitted(a, 5, w),
      completed(a, 6, w, 120, 30, 0),
      opened(b),
      deposited(b, 2, 7, 7),
      opened(c, 'USD'),
    ]);

    running = await h.startEngine(h.group(groupId));
    await h.caughtUp();

    expect(await wallet(a)).toEqual({ balance: 30, held: 0, available: 30, version: 6 });
    expect(await wallet(b)).toEqual({ balance: 7, held: 0, available: 7, version: 2 });
    expect((await findWallet(h.pool, c))?.currency).toBe('USD');
    const history = await readTransactions(h.pool, a, { limit: 10 });
    expect(history.items.map((i) => [i.version, i.type, i.amount, i.balance])).toEqual([
      [6, 'withdrawal', 120, 30],
      [4, 'withdrawal_hold', 120, 150],
      [3, 'deposit', 50, 150],
      [2, 'deposit', 100, 100],
    ]);
    expect(await findWithdrawal(h.pool, w)).toMatchObject({ walletId: a, amount: 120, state: 'completed', version: 6 });
    const { registry } = running;
    expect(await metric(registry, 'sluice_projector_events_applied_total', { projection: 'wallet' })).toBe(9);
    expect(await metric(registry, 'sluice_projector_events_applied_total', { projection: 'transactions' })).toBe(5);
    expect(await metric(registry, 'sluice_projector_events_applied_total', { projection: 'withdrawals' })).toBe(3);
    expect(await metric(registry, 'sluice_projector_events_skipped_total', { projection: 'wallet', reason: 'duplicate' })).toBe(
      1,
    );
    expect(await metric(registry, 'sluice_projector_lag_records')).toBe(0);
    // Clean batches commit on their first try, without savepoints.
    expect(await metric(registry, 'sluice_projector_savepoint_retries_total')).toBe(0);
    snapshot = await readModel();
  });

  it('commits the checkpoint to Kafka as well, after the database', async () => {
    const stored = await h.checkpoints('wallet');
    await waitFor('Kafka committed offsets to match the checkpoints', async () => {
      const [committed] = await h.admin.fetchOffsets({ groupId: h.group(groupId), topics: [h.topic] });
      return committed?.partitions.every(
        (p) => (stored.get(p.partition) ?? 0n) === 0n || BigInt(p.offset) === stored.get(p.partition),
      );
    });
  });

  it('skips a redelivered batch inside the transaction: records below the checkpoint change nothing', async () => {
    const before = await h.checkpoints('wallet');
    const records = await consumeRecords(h.kafka, h.topic, 10);
    const applier = new PartitionApplier({
      pool: h.pool,
      topic: h.topic,
      groupId: h.group(groupId),
      resolver: new LiveTargets(h.projections),
      notify: false,
      synchronousCommit: true,
    });
    for (const partition of new Set(records.map((r) => r.partition))) {
      const messages = records.filter((r) => r.partition === partition).map((r) => r.message);
      const outcome = await applier.apply(partition, await decodeRecords(h.codec, messages.map(rawRecord)), {
        highWatermark: 0n,
        isolate: new Set(),
        attempts: new Map(),
      });
      expect(outcome.reports.map((r) => r.status)).toEqual(['checkpointed', 'checkpointed', 'checkpointed']);
    }
    expect(await readModel()).toEqual(snapshot);
    expect(await h.checkpoints('wallet')).toEqual(before);
  });

  it('resumes from its database checkpoints after a restart, even when Kafka offsets were reset to the beginning', async () => {
    await h.stopEngine(running.engine);
    await h.admin.resetOffsets({ groupId: h.group(groupId), topic: h.topic, earliest: true });
    await h.produce([deposited(b, 3, 25, 32)]);

    running = await h.startEngine(h.group(groupId));
    const { registry } = running;
    await waitFor('the new deposit to be applied', async () => (await wallet(b))?.version === 3);
    await h.caughtUp();

    expect(await wallet(b)).toMatchObject({ balance: 32, version: 3 });
    expect(await metric(registry, 'sluice_projector_events_applied_total', { projection: 'wallet' })).toBe(1);
    // Sought to the checkpoint on assignment: nothing below it was even fetched, let alone folded.
    expect(await metric(registry, 'sluice_projector_events_skipped_total', { reason: 'already_checkpointed' })).toBe(0);
    expect(await metric(registry, 'sluice_projector_events_skipped_total', { reason: 'duplicate' })).toBe(0);
    snapshot = await readModel();
  });

  it('another consumer group re-reading everything applies nothing twice: the per-aggregate version guard holds', async () => {
    // Its checkpoints are the live versions' (they belong to the version, not the group); reset them to 0 to force the re-read.
    await h.stopEngine(running.engine);
    await h.pool.query('UPDATE projection_checkpoints SET next_offset = 0');
    const other = await h.startEngine(h.group(uniqueGroup('replay')));
    await h.caughtUp();
    await h.stopEngine(other.engine);

    expect(await readModel()).toEqual(snapshot);
    expect(await metric(other.registry, 'sluice_projector_events_applied_total')).toBe(0);
    expect(
      await metric(other.registry, 'sluice_projector_events_skipped_total', { projection: 'wallet', reason: 'duplicate' }),
    ).toBe(11);
    running = await h.startEngine(h.group(groupId));
  });

  it('parks undecodable records and version gaps as dead letters, holds their keys, and keeps the partition moving', async () => {
    const d = uuidv7();
    const e = uuidv7();
    const { registry } = running;
    await h.produceRaw(d, Buffer.from('{"not":"avro"}'), { id: 'x-1' });
    await h.produce([opened(e), deposited(e, 3, 5, 5), deposited(e, 4, 5, 10), opened(d)]);
    const other = uuidv7(); // on the same partition as e, after e's gap: it must still be applied
    await h.produce([opened(other)]);

    await waitFor('the wallet after the bad records to be applied', async () => (await wallet(other))?.version === 1);
    await h.caughtUp();

    expect(await wallet(e)).toMatchObject({ balance: 0, version: 1 });
    expect(await wallet(d)).toBeUndefined(); // held behind the undecodable record of its key
    expect(await metric(registry, 'sluice_projector_dead_letters_total', { projection: 'wallet', code: 'bad_wire_format' })).toBe(
      1,
    );
    expect(await metric(registry, 'sluice_projector_dead_letters_total', { projection: 'wallet', code: 'version_gap' })).toBe(1);
    expect(await metric(registry, 'sluice_projector_events_held_total', { projection: 'wallet' })).toBe(2);

    const { rows } = await h.pool.query<{ key: string; state: string; error_code: string }>(
      `SELECT key, state, error_code FROM projection_parked WHERE projection = 'wallet' ORDER BY partition, "offset"`,
    );
    expect(rows.filter((r) => r.key === e).map((r) => [r.state, r.error_code])).toEqual([
      ['dead', 'version_gap'],
      ['held', 'held'],
    ]);
    expect(rows.filter((r) => r.key === d).map((r) => [r.state, r.error_code])).toEqual([
      ['dead', 'bad_wire_format'],
      ['held', 'held'],
    ]);

    // One dead letter per projection that parked it, with the original key, value and headers.
    const letters = await consumeRecords(h.kafka, h.dlqTopic, 6);
    const undecodable = letters.filter((l) => l.message.key?.toString() === d);
    expect(undecodable.map((l) => l.message.headers?.['dlq.projection']?.toString()).sort()).toEqual([
      'transactions',
      'wallet',
      'withdrawals',
    ]);
    const letter = undecodable[0]!.message;
    expect(letter.value?.toString()).toBe('{"not":"avro"}');
    expect(letter.headers?.id?.toString()).toBe('x-1');
    expect(letter.headers?.['dlq.error.code']?.toString()).toBe('bad_wire_format');
    expect(letter.headers?.['dlq.attempts']?.toString()).toBe('1');
    expect(letter.headers?.['dlq.original.topic']?.toString()).toBe(h.topic);
    expect(letter.headers?.['dlq.original.partition']?.toString()).toBe(String(partitionForKey(d, h.partitions)));
  });

  it('two members of one group apply every event exactly once across a rebalance', async () => {
    const wallets = Array.from({ length: 24 }, () => uuidv7());
    const history = (id: string) => [opened(id), deposited(id, 2, 10, 10), deposited(id, 3, 10, 20), deposited(id, 4, 10, 30)];
    const first = running;
    const appliedBefore = await metric(first.registry, 'sluice_projector_events_applied_total', { projection: 'wallet' });

    await h.produce(wallets.slice(0, 12).flatMap(history));
    const second = await h.startEngine(h.group(groupId));
    await h.produce(wallets.slice(12).flatMap(history));
    await waitFor('both members to own partitions', () => second.engine.ownedPartitions().length > 0);
    await h.caughtUp();

    for (const id of wallets) expect(await wallet(id)).toMatchObject({ balance: 30, version: 4 });
    const applied =
      (await metric(first.registry, 'sluice_projector_events_applied_total', { projection: 'wallet' })) -
      appliedBefore +
      (await metric(second.registry, 'sluice_projector_events_applied_total', { projection: 'wallet' }));
    expect(applied).toBe(wallets.length * 4);
    const duplicates =
      (await metric(first.registry, 'sluice_projector_events_skipped_total', { reason: 'duplicate' })) +
      (await metric(second.registry, 'sluice_projector_events_skipped_total', { reason: 'duplicate' }));
    expect(duplicates).toBe(0);
    const { rows } = await h.pool.query<{ n: string }>(
      'SELECT count(*) AS n FROM wallet_transactions WHERE wallet_id = ANY($1::uuid[])',
      [wallets],
    );
    expect(Number(rows[0]!.n)).toBe(wallets.length * 3);
    expect(first.engine.ownedPartitions().length + second.engine.ownedPartitions().length).toBe(h.partitions);
    // A member left consuming would apply the next test's records before its lag sample.
    await h.stopEngine(second.engine);
  });

  it("applies several partitions' batches in one transaction, one step per projection, with each partition's checkpoint", async () => {
    await h.stopEngine(running.engine);
    // Three wallets on three different partitions.
    const chosen = new Map<number, string>();
    while (chosen.size < 3) {
      const id = uuidv7();
      const p = partitionForKey(id, h.partitions);
      if (!chosen.has(p)) chosen.set(p, id);
    }
    const ids = [...chosen.values()];
    await h.produce(ids.flatMap((id, n) => [opened(id), deposited(id, 2, 10 + n, 10 + n)]));
    const before = await h.checkpoints('wallet');
    const all = await consumeRecords(
      h.kafka,
      h.topic,
      (await h.admin.fetchTopicOffsets(h.topic)).reduce((n, o) => n + Number(o.high), 0),
    );
    const mine = all.filter((r) => ids.includes(r.message.key?.toString() ?? ''));
    const applier = new PartitionApplier({
      pool: h.pool,
      topic: h.topic,
      groupId: h.group(groupId),
      resolver: new LiveTargets(h.projections),
      notify: true,
      synchronousCommit: true,
    });
    const batches = await Promise.all(
      [...chosen.keys()].map(async (partition) => ({
        partition,
        records: await decodeRecords(
          h.codec,
          mine.filter((r) => r.partition === partition).map((r) => rawRecord(r.message)),
        ),
        opts: { highWatermark: 0n, isolate: new Set<string>(), attempts: new Map<string, number>() },
      })),
    );
    const outcomes = await applier.applyGroup(batches);

    expect(outcomes.map((o) => o.reports.map((r) => r.status))).toEqual(batches.map(() => ['applied', 'applied', 'applied']));
    for (const [n, id] of ids.entries()) expect(await wallet(id)).toMatchObject({ balance: 10 + n, version: 2 });
    const after = await h.checkpoints('wallet');
    for (const b of batches) expect(after.get(b.partition)).toBe(b.records.at(-1)!.raw.offset + 1n);
    for (const [p, offset] of before) if (!chosen.has(p)) expect(after.get(p)).toBe(offset);
    // Delivered again, as after a crash before Kafka's offsets moved: below every checkpoint, nothing changes.
    const again = await applier.applyGroup(batches);
    expect(again.flatMap((o) => o.reports.map((r) => r.status))).toEqual(Array.from({ length: 9 }, () => 'checkpointed'));
    running = await h.startEngine(h.group(groupId));
    await h.caughtUp();
  });

  it('measures lag per partition between batches, so a partition that gets none does not look caught up', async () => {
    await h.stopEngine(running.engine);
    const lagged = uuidv7();
    await h.produce([opened(lagged), deposited(lagged, 2, 1, 1)]);
    const registry = createMetricsRegistry('lag', false);
    const monitor = new LagMonitor({
      admin: h.admin,
      pool: h.pool,
      topic: h.topic,
      targets: new LiveTargets(h.projections),
      metrics: new ProjectorMetrics(registry),
      owned: () => Array.from({ length: h.partitions }, (_, p) => p),
      logger: h.logger,
      intervalMs: 60_000,
    });
    await monitor.sample();
    const partition = String(partitionForKey(lagged, h.partitions));
    expect(await metric(registry, 'sluice_projector_lag_records', { projection: 'wallet', partition })).toBe(2);
    expect(await metric(registry, 'sluice_projector_lag_records', { projection: 'withdrawals' })).toBe(2);
    expect(await metric(registry, 'sluice_projector_lag_seconds', { projection: 'wallet', partition })).toBeGreaterThanOrEqual(0);
    running = await h.startEngine(h.group(groupId));
    await h.caughtUp();
    await monitor.sample();
    expect(await metric(registry, 'sluice_projector_lag_records')).toBe(0);
  });
});
