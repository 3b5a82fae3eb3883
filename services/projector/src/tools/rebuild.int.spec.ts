import { setTimeout as sleep } from 'node:timers/promises';
import { Client } from 'pg';
import { loadConfig } from '@sluice/config';
import { uuidv7 } from '@sluice/core';
import { partitionForKey } from '@sluice/messaging';
import { CHANGES_CHANNEL, HEADS_TABLE, qualified } from '@sluice/projection-kit';
import { transactionsProjection } from '@sluice/projection-transactions';
import { foldWallets, simulateWalletHistories, walletProjection, type WalletView } from '@sluice/projection-wallet';
import type { WalletEvent } from '@sluice/schemas';
import { testEnv, waitFor } from '@sluice/testing';
import { listVersions } from '../store/versions';
import { deposited, opened } from '../test-support/events';
import { ProjectorHarness, type Running } from '../test-support/harness';
import { toolsConfig } from './config';
import { openToolContext, type ToolContext } from './context';
import { ProgressPrinter } from './progress-bar';
import { rebuild } from './rebuild';
import { replay } from './replay';

let h: ProjectorHarness;
let tools: ToolContext;
let live: Running;
const produced: WalletEvent[] = [];
const progressLines: string[] = [];
const printer = new ProgressPrinter(
  { isTTY: false, write: (s: string) => progressLines.push(s) } as unknown as NodeJS.WriteStream,
  0,
);

beforeAll(async () => {
  h = await ProjectorHarness.create('rebuild', { partitions: 6 });
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
    }),
    () => undefined,
  );
  live = await h.startEngine(h.group('live'));
});

afterAll(async () => {
  await tools?.close();
  await h?.close();
});

async function produce(events: WalletEvent[]): Promise<void> {
  produced.push(...events);
  await h.produce(events);
}

/** What folding every produced event exactly once gives, per wallet. */
function expectedWallets(): Map<string, WalletView> {
  const { changed } = foldWallets(new Map(), produced);
  return new Map(changed.map((w) => [w.walletId, w]));
}

async function walletsOf(relation: string): Promise<Map<string, { balance: number; held: number; version: number }>> {
  const { rows } = await h.pool.query<{ wallet_id: string; balance: string; held: string; version: number }>(
    `SELECT wallet_id, balance, held, version FROM ${relation}`,
  );
  return new Map(rows.map((r) => [r.wallet_id, { balance: Number(r.balance), held: Number(r.held), version: r.version }]));
}

function summary(m: Map<string, WalletView>): Map<string, { balance: number; held: number; version: number }> {
  return new Map([...m].map(([id, w]) => [id, { balance: w.balance, held: w.held, version: w.version }]));
}

describe('rebuild and replay beside the live version', () => {
  it('builds version 2 from the earliest offset while version 1 serves, switches atomically, and leaves the live group alone', async () => {
    await produce(simulateWalletHistories({ seed: 11, wallets: 40, events: 1_500 }));
    await h.caughtUp();
    const joinsBefore = live.engine.groupJoins();
    const dlqBefore = (await h.admin.fetchTopicOffsets(h.dlqTopic))[0]!.high;

    // Everything readers are told while the rebuild runs.
    const listener = new Client({ connectionString: h.db.url });
    await listener.connect();
    const notices: string[] = [];
    listener.on('notification', (n) => notices.push(n.payload ?? ''));
    listener.on('error', () => undefined);
    await listener.query(`LISTEN ${CHANGES_CHANNEL}`);

    // Events keep arriving during the rebuild, and readers keep reading version 1.
    let flowing = true;
    const more = simulateWalletHistories({ seed: 12, wallets: 10, events: 400, startAt: Date.UTC(2025, 6, 1) });
    const load = (async () => {
      for (let i = 0; flowing && i < more.length; i += 20) {
        await produce(more.slice(i, i + 20));
        await sleep(30);
      }
    })();
    const reads: number[] = [];
    const reader = (async () => {
      while (flowing) {
        reads.push((await walletsOf('wallet_balances')).size);
        await sleep(20);
      }
    })();

    const result = await rebuild(tools, walletProjection, { printer }).finally(() => {
      flowing = false;
    });
    await Promise.all([load, reader]);
    await listener.end();

    expect(result).toMatchObject({ status: 'switched', version: 2, from: 1 });
    expect(reads.length).toBeGreaterThan(3);
    expect(reads.every((n) => n >= 40)).toBe(true);
    const versions = await listVersions(h.pool, 'wallet');
    expect(versions.map((v) => [v.version, v.state])).toEqual([
      [1, 'retired'],
      [2, 'live'],
    ]);
    // Nothing told readers about version 2 before it went live, and the rebuild published no dead letters.
    const switchAt = notices.indexOf('s1|wallet|2');
    expect(switchAt).toBeGreaterThanOrEqual(0);
    expect(notices.slice(0, switchAt).filter((n) => n.startsWith('c1|wallet|2|'))).toEqual([]);
    expect((await h.admin.fetchTopicOffsets(h.dlqTopic))[0]!.high).toBe(dlqBefore);
    // The live consumer group never rebalanced; the rebuild's group is gone.
    expect(live.engine.groupJoins()).toBe(joinsBefore);
    const groups = (await h.admin.listGroups()).groups.map((g) => g.groupId);
    // This test's rebuild groups only (<live group>.rebuild.<projection>.v<n>): other tests' live on the same broker.
    expect(groups.filter((g) => g.startsWith(`${h.group('live')}.rebuild.`))).toEqual([]);
    // The live engine writes version 2 from here on; both equal folding every event once.
    await produce([opened(uuidv7())]);
    await h.caughtUp();
    expect(await walletsOf('wallet_balances')).toEqual(summary(expectedWallets()));
    expect(await walletsOf('proj_wallet_v2.wallet_balances')).toEqual(summary(expectedWallets()));
    expect(progressLines.join('')).toMatch(/wallet v2 \[[█░]+\] +\d+\.\d% .* ev\/s +ETA /);
  });

  it('rolls back: catches version 1 up from its checkpoints and makes it live again', async () => {
    await produce(simulateWalletHistories({ seed: 13, wallets: 5, events: 100, startAt: Date.UTC(2025, 7, 1) }));
    const result = await rebuild(tools, walletProjection, { version: 1, printer });
    expect(result).toMatchObject({ status: 'switched', version: 1, from: 2 });
    await h.caughtUp();
    expect(await walletsOf('wallet_balances')).toEqual(summary(expectedWallets()));
    expect(await walletsOf('proj_wallet_v1.wallet_balances')).toEqual(summary(expectedWallets()));
  });

  it('rebuilds a partial-history projection from a timestamp, and refuses that for one that needs every event', async () => {
    await expect(rebuild(tools, walletProjection, { from: new Date() })).rejects.toThrow(/earliest offset/);
    const since = new Date();
    await sleep(50);
    const w = uuidv7();
    await produce([opened(w), deposited(w, 2, 70, 70), deposited(w, 3, 30, 100)]);
    await h.caughtUp();

    const result = await rebuild(tools, transactionsProjection, { from: since, printer });
    expect(result).toMatchObject({ status: 'switched', version: 2 });
    const { rows } = await h.pool.query<{ wallet_id: string; version: number }>(
      'SELECT wallet_id, version FROM wallet_transactions ORDER BY version',
    );
    // Only what was produced since: this wallet's two deposits.
    expect(rows).toEqual([
      { wallet_id: w, version: 2 },
      { wallet_id: w, version: 3 },
    ]);
    const heads = await h.pool.query(`SELECT aggregate_id, version FROM ${qualified('proj_transactions_v2', HEADS_TABLE)}`);
    expect(heads.rows).toEqual([{ aggregate_id: w, version: 3 }]);
  });

  it('replays a bounded offset range of one key into a side schema, with what became of every record', async () => {
    const w = uuidv7();
    const partition = partitionForKey(w, h.partitions);
    const from = (await h.highWatermarks()).get(partition)!;
    await produce([opened(w), deposited(w, 2, 5, 5), deposited(w, 2, 5, 5), deposited(w, 4, 1, 6)]);
    const to = (await h.highWatermarks()).get(partition)!;
    await produce([deposited(w, 3, 1, 6)]); // past the range: not replayed
    const liveBefore = await walletsOf('wallet_balances');

    const result = await replay(tools, walletProjection, {
      from: { offsets: new Map([[partition, from]]) },
      to: { offsets: new Map([[partition, to]]) },
      key: w,
      into: 'investigation_1',
      printer,
    });

    expect(result).toMatchObject({ schema: 'investigation_1', records: 4, outcomes: { applied: 2, duplicate: 1, dead: 1 } });
    const { rows } = await h.pool.query<{ aggregate_version: number; outcome: string; reason: string | null }>(
      'SELECT aggregate_version, outcome, reason FROM investigation_1.replayed_events ORDER BY "offset"',
    );
    expect(rows.map((r) => [r.aggregate_version, r.outcome])).toEqual([
      [1, 'applied'],
      [2, 'applied'],
      [2, 'duplicate'],
      [4, 'dead'],
    ]);
    expect(rows[3]!.reason).toMatch(/^version_gap/);
    expect(await walletsOf('investigation_1.wallet_balances')).toEqual(new Map([[w, { balance: 5, held: 0, version: 2 }]]));
    await waitFor('the live engine to apply the same records', async () => (await walletsOf('wallet_balances')).has(w));
    expect((await walletsOf('wallet_balances')).size).toBe(liveBefore.size + 1);
  });
});
