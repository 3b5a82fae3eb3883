import { setTimeout as sleep } from 'node:timers/promises';
import { loadConfig } from '@sluice/config';
import { partitionForKey } from '@sluice/messaging';
import { createMetricsRegistry } from '@sluice/observability';
import { HEADS_TABLE, qualified, type ProjectionDefinition } from '@sluice/projection-kit';
import { transactionsProjection } from '@sluice/projection-transactions';
import { foldWallets, simulateWalletHistories, walletProjection } from '@sluice/projection-wallet';
import type { WalletEvent } from '@sluice/schemas';
import { testEnv } from '@sluice/testing';
import { ProjectorHarness, metric } from '../test-support/harness';
import { toolsConfig } from '../tools/config';
import { openToolContext, type ToolContext } from '../tools/context';
import { ProgressPrinter } from '../tools/progress-bar';
import { rebuild } from '../tools/rebuild';
import { projectionSnapshot } from '../tools/snapshot';
import { getVersion } from '../store/versions';
import { SnapshotMetrics } from './metrics';
import { SnapshotScheduler } from './scheduler';
import { listSnapshots, takeSnapshot, type Snapshot } from './store';

let h: ProjectorHarness;
let tools: ToolContext;
const printed: string[] = [];
const produced: WalletEvent[] = [];
const quiet = new ProgressPrinter({ isTTY: false, write: () => true } as unknown as NodeJS.WriteStream, 0);

beforeAll(async () => {
  h = await ProjectorHarness.create('snapshots', { partitions: 4 });
  tools = await openToolContext(
    loadConfig(toolsConfig, {
      SLUICE_ENV: 'development',
      DATABASE_URL: h.db.url,
      ...testEnv.kafkaEnv,
      SCHEMA_REGISTRY_URL: testEnv.registryUrl,
      OUTBOX_TOPIC_PATTERN: h.pattern,
      PROJECTOR_GROUP_ID: h.group('live'),
      LOG_LEVEL: 'silent',
      REBUILD_PROGRESS_INTERVAL_MS: '200',
      REBUILD_FETCH_MAX_WAIT_MS: '50',
      PROJECTOR_SNAPSHOT_KEEP: '2',
    }),
    (line) => printed.push(line),
  );
  await h.startEngine(h.group('live'));
});

afterAll(async () => {
  await tools?.close();
  await h?.close();
});

async function produce(events: WalletEvent[]): Promise<void> {
  produced.push(...events);
  await h.produce(events);
}

/** The produced events below the given next offsets (the topic is fresh, so the n-th event of a partition is at offset n). */
function eventsBelow(offsets: ReadonlyMap<number, bigint>): WalletEvent[] {
  const seen = new Map<number, bigint>();
  return produced.filter((e) => {
    const p = partitionForKey(e.data.walletId, h.partitions);
    const offset = seen.get(p) ?? 0n;
    seen.set(p, offset + 1n);
    return offset < (offsets.get(p) ?? 0n);
  });
}

/** Every row of a table as JSON, without the time it was written, in a stable order. */
async function rowsOf(schema: string, table: string): Promise<string[]> {
  const { rows } = await h.pool.query<{ row: string }>(
    `SELECT (to_jsonb(t) - 'projected_at')::text AS row FROM ${qualified(schema, table)} t`,
  );
  return rows.map((r) => r.row).sort();
}

function walletSummary(events: readonly WalletEvent[]): string[] {
  return foldWallets(new Map(), events)
    .changed.map((w) => JSON.stringify([w.walletId, w.balance, w.held, w.version]))
    .sort();
}

async function walletSummaryOf(schema: string): Promise<string[]> {
  const { rows } = await h.pool.query<{ wallet_id: string; balance: string; held: string; version: number }>(
    `SELECT wallet_id, balance, held, version FROM ${qualified(schema, 'wallet_balances')}`,
  );
  return rows.map((r) => JSON.stringify([r.wallet_id, Number(r.balance), Number(r.held), r.version])).sort();
}

const sum = (offsets: Iterable<bigint>): number => [...offsets].reduce((n, o) => n + Number(o), 0);

describe('read-model snapshots', () => {
  let first: Snapshot;

  it('copies the live version and its offsets as of one instant while batches keep committing', async () => {
    await produce(simulateWalletHistories({ seed: 31, wallets: 30, events: 1_200 }));
    await h.caughtUp();
    // Events keep arriving while the snapshot copies: its rows must be the fold of exactly the events below its offsets.
    let flowing = true;
    const more = simulateWalletHistories({ seed: 32, wallets: 10, events: 600, startAt: Date.UTC(2025, 6, 1) });
    const load = (async () => {
      for (let i = 0; flowing && i < more.length; i += 15) {
        await produce(more.slice(i, i + 15));
        await sleep(10);
      }
    })();
    await sleep(150);
    const taken = await takeSnapshot(h.pool, walletProjection, h.topic);
    flowing = false;
    await load;
    expect(taken).toBeDefined();
    first = taken!;
    expect(first).toMatchObject({ projection: 'wallet', version: 1, topic: h.topic });
    expect(first.records).toBe(sum(first.offsets.values()));
    expect(first.records).toBeGreaterThanOrEqual(1_200);
    expect(first.rowCounts).toMatchObject({ wallet_balances: expect.any(Number), [HEADS_TABLE]: expect.any(Number) });
    expect(await walletSummaryOf(first.schema)).toEqual(walletSummary(eventsBelow(first.offsets)));
  });

  it('rebuilds from the snapshot to exactly the rows of a rebuild from the earliest offset, applying only the records after it', async () => {
    await produce(simulateWalletHistories({ seed: 33, wallets: 15, events: 500, startAt: Date.UTC(2025, 7, 1) }));
    await h.caughtUp();
    const high = await h.highWatermarks();
    const total = sum(high.values());

    printed.length = 0;
    const fromSnapshot = await rebuild(tools, walletProjection, { noSwitch: true, printer: quiet });
    expect(fromSnapshot).toMatchObject({ status: 'caught_up', version: 2 });
    expect(printed.join('\n')).toMatch(new RegExp(`from snapshot ${first.id} `));
    expect((await getVersion(h.pool, 'wallet', 2))?.origin).toBe('snapshot');
    // Started at the snapshot's offsets on every partition and applied the tail once: nothing skipped, nothing twice.
    const { rows: starts } = await h.pool.query<{ partition: number; start_offset: string }>(
      'SELECT partition, start_offset FROM projection_checkpoints WHERE projection = $1 AND version = 2',
      ['wallet'],
    );
    expect(new Map(starts.map((r) => [r.partition, BigInt(r.start_offset)]))).toEqual(first.offsets);
    expect(fromSnapshot.events).toBe(total - first.records);
    expect(await h.checkpoints('wallet', 2)).toEqual(high);

    const fromZero = await rebuild(tools, walletProjection, { noSwitch: true, fresh: true, snapshot: false, printer: quiet });
    expect(fromZero).toMatchObject({ status: 'caught_up', version: 3, events: total });
    expect((await getVersion(h.pool, 'wallet', 3))?.origin).toBe('earliest');

    for (const table of ['wallet_balances', HEADS_TABLE]) {
      const rebuilt = await rowsOf('proj_wallet_v2', table);
      expect(rebuilt.length).toBeGreaterThan(0);
      expect(rebuilt).toEqual(await rowsOf('proj_wallet_v3', table));
      expect(rebuilt).toEqual(await rowsOf('proj_wallet_v1', table));
    }
    expect(await walletSummaryOf('proj_wallet_v2')).toEqual(walletSummary(produced));
  });

  it('rebuilds the transaction history from a snapshot with one item per money event, none twice at the boundary', async () => {
    const snap = await takeSnapshot(h.pool, transactionsProjection, h.topic);
    await produce(simulateWalletHistories({ seed: 34, wallets: 20, events: 400, startAt: Date.UTC(2025, 8, 1) }));
    await h.caughtUp();
    const result = await rebuild(tools, transactionsProjection, { noSwitch: true, printer: quiet });
    expect(result.events).toBe(sum((await h.highWatermarks()).values()) - snap!.records);
    const version = result.version;
    const rebuilt = await rowsOf(`proj_transactions_v${version}`, 'wallet_transactions');
    expect(rebuilt).toEqual(await rowsOf('proj_transactions_v1', 'wallet_transactions'));
  });

  it('refuses a snapshot taken with another fold and replays that fold from the earliest offset', async () => {
    // The same projection with an edited fold: its output may differ, so the old fold's rows must not seed it.
    const changed: ProjectionDefinition = {
      ...walletProjection,
      apply: async (ctx, events) => walletProjection.apply(ctx, events as WalletEvent[]),
    };
    printed.length = 0;
    const result = await rebuild(tools, changed, { noSwitch: true, fresh: true, printer: quiet });
    expect(printed.join('\n')).toMatch(/snapshot \d+ not used: taken with fold [0-9a-f]{12}, this build folds [0-9a-f]{12}/);
    expect((await getVersion(h.pool, 'wallet', result.version))?.origin).toBe('earliest');
    expect(result.events).toBe(sum((await h.highWatermarks()).values()));
    expect(await walletSummaryOf(`proj_wallet_v${result.version}`)).toEqual(walletSummary(produced));
  });

  it('keeps the newest snapshots and drops the older ones with their tables', async () => {
    for (let i = 0; i < 2; i++) expect(await projectionSnapshot(tools, 'wallet')).toBe(0);
    const kept = await listSnapshots(h.pool, 'wallet');
    expect(kept).toHaveLength(2);
    expect(kept.map((s) => s.id)).not.toContain(first.id);
    const { rows } = await h.pool.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [first.schema]);
    expect(rows).toEqual([]);
  });

  it('takes a scheduled snapshot only when the newest is older than the interval, and exports its age, duration and size', async () => {
    const registry = createMetricsRegistry('snapshots-int', false);
    let now = Date.now();
    const scheduler = new SnapshotScheduler({
      pool: h.pool,
      projections: [walletProjection],
      topic: h.topic,
      intervalMs: 3_600_000,
      keep: 2,
      metrics: new SnapshotMetrics(registry, () => now),
      logger: h.logger,
      now: () => now,
    });
    const before = (await listSnapshots(h.pool, 'wallet'))[0]!;
    await scheduler.tick();
    expect((await listSnapshots(h.pool, 'wallet'))[0]!.id).toBe(before.id);
    expect(await metric(registry, 'sluice_projection_snapshots_total')).toBe(0);

    now += 3_600_000;
    await scheduler.tick();
    const newest = (await listSnapshots(h.pool, 'wallet'))[0]!;
    expect(newest.id).toBeGreaterThan(before.id);
    expect(await metric(registry, 'sluice_projection_snapshots_total', { projection: 'wallet', outcome: 'taken' })).toBe(1);
    expect(await metric(registry, 'sluice_projection_snapshot_bytes', { projection: 'wallet' })).toBe(newest.bytes);
    expect(await metric(registry, 'sluice_projection_snapshot_records', { projection: 'wallet' })).toBe(newest.records);
    const age = await metric(registry, 'sluice_projection_snapshot_age_seconds', { projection: 'wallet' });
    expect(age).toBeCloseTo((now - newest.createdAt.getTime()) / 1000, 0);
    expect(await listSnapshots(h.pool, 'wallet')).toHaveLength(2);
  });
});
