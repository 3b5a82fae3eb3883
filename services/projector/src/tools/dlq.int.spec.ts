import { uuidv7 } from '@sluice/core';
import { loadConfig } from '@sluice/config';
import { partitionForKey } from '@sluice/messaging';
import type { ProjectionDefinition } from '@sluice/projection-kit';
import { readTransactions, transactionsProjection } from '@sluice/projection-transactions';
import { findWallet } from '@sluice/projection-wallet';
import type { WalletEvent } from '@sluice/schemas';
import { consumeRecords, testEnv, waitFor } from '@sluice/testing';
import { PROJECTIONS } from '../projections';
import { listParked } from '../store/parked';
import { deposited, opened } from '../test-support/events';
import { metric, ProjectorHarness, type Running } from '../test-support/harness';
import { toolsConfig } from './config';
import { openToolContext, type ToolContext } from './context';
import { dlqInspect, dlqList, dlqRedrive } from './dlq';

let h: ProjectorHarness;
let tools: ToolContext;
const printed: string[] = [];

/**
 * The transactions projection with a bug that a deposit of 13 triggers, while `broken` holds; `flaky` fails the first calls;
 * a deposit of 17 runs a statement the database refuses (division by zero), while `sqlBroken` holds.
 */
const bug = { broken: true, flakyCalls: 0, sqlBroken: true };
const buggyTransactions: ProjectionDefinition<WalletEvent> = {
  ...transactionsProjection,
  apply: async (ctx, events) => {
    if (bug.flakyCalls > 0 && events.some((e) => e.type === 'FundsDeposited' && e.data.amount === 11)) {
      bug.flakyCalls--;
      throw new TypeError('flaky: the first calls fail');
    }
    if (bug.broken && events.some((e) => e.type === 'FundsDeposited' && e.data.amount === 13)) {
      throw new TypeError("Cannot read properties of undefined (reading 'thirteen')");
    }
    if (bug.sqlBroken && events.some((e) => e.type === 'FundsDeposited' && e.data.amount === 17)) {
      await ctx.db.query('SELECT 1 / 0');
    }
    return transactionsProjection.apply(ctx, events);
  },
};
const projections = PROJECTIONS.map((p) => (p.name === 'transactions' ? buggyTransactions : p));

let running: Running;
const groupId = () => h.group('dlq');

beforeAll(async () => {
  h = await ProjectorHarness.create('dlq');
  tools = await openToolContext(
    loadConfig(toolsConfig, {
      SLUICE_ENV: 'development',
      DATABASE_URL: h.db.url,
      ...testEnv.kafkaEnv,
      SCHEMA_REGISTRY_URL: testEnv.registryUrl,
      OUTBOX_TOPIC_PATTERN: h.pattern,
      PROJECTOR_GROUP_ID: groupId(),
      LOG_LEVEL: 'silent',
    }),
    (line) => printed.push(line),
  );
  running = await h.startEngine(groupId(), { projections });
});

afterAll(async () => {
  await tools?.close();
  await h?.close();
});

/** Two wallets on the same partition, so one parked key must not stop the other. */
function samePartitionPair(partitions = 12): [string, string] {
  const x = uuidv7();
  for (;;) {
    const y = uuidv7();
    if (partitionForKey(y, partitions) === partitionForKey(x, partitions)) return [x, y];
  }
}

const items = async (walletId: string) =>
  (await readTransactions(h.pool, walletId, { limit: 50 })).items.map((i) => [i.version, i.amount]);

describe('poison events: retries, dead letters, per-key parking and re-drive', () => {
  const [x, y] = samePartitionPair();

  it('retries a failure that clears up, with backoff, and parks nothing', async () => {
    const z = uuidv7();
    // Three failing calls: the batch's first try (without savepoints) and two tries with them.
    bug.flakyCalls = 3;
    await h.produce([opened(z), deposited(z, 2, 11, 11)]);
    await waitFor('the flaky deposit in the history', async () => (await items(z)).length === 1);
    expect(
      await metric(running.registry, 'sluice_projector_retries_total', { projection: 'transactions', blame: 'record' }),
    ).toBe(2);
    expect(await listParked(h.pool, { key: z })).toEqual([]);
  });

  it('isolates an event that keeps failing after bounded retries, parks it, holds its key and keeps the partition moving', async () => {
    await h.produce([
      opened(x),
      deposited(x, 2, 10, 10),
      deposited(x, 3, 13, 23),
      deposited(x, 4, 5, 28),
      opened(y),
      deposited(y, 2, 7, 7),
    ]);
    await waitFor('the other wallet on the partition in the history', async () => (await items(y)).length === 1);
    await h.caughtUp();

    expect(await items(x)).toEqual([[2, 10]]);
    // Only the buggy projection parks: the wallet read model is whole.
    expect(await findWallet(h.pool, x)).toMatchObject({ balance: 28, version: 4 });
    const parked = await listParked(h.pool, { key: x });
    expect(parked.map((p) => [p.projection, p.aggregateVersion, p.state, p.code, p.attempts])).toEqual([
      ['transactions', 3, 'dead', 'projection_error', 3],
      ['transactions', 4, 'held', 'held', 0],
    ]);
    expect(parked[0]!.reason).toMatch(/thirteen/);
    expect(
      await metric(running.registry, 'sluice_projector_dead_letters_total', {
        projection: 'transactions',
        code: 'projection_error',
      }),
    ).toBe(1);

    const [letter] = await consumeRecords(h.kafka, h.dlqTopic, 1);
    const headers = letter!.message.headers!;
    expect(letter!.message.key?.toString()).toBe(x);
    expect((await h.codec.decode(letter!.message.value!)).data).toMatchObject({ walletId: x, version: 3, amount: 13 });
    expect(headers.type?.toString()).toBe('FundsDeposited');
    expect(headers['dlq.error.code']?.toString()).toBe('projection_error');
    expect(headers['dlq.error.reason']?.toString()).toMatch(/thirteen/);
    expect(headers['dlq.attempts']?.toString()).toBe('3');
    expect(headers['dlq.consumer.group']?.toString()).toBe(groupId());
  });

  it('holds later events of a parked key as they arrive', async () => {
    await h.produce([deposited(x, 5, 1, 29)]);
    await waitFor('the new event to be held', async () => (await listParked(h.pool, { key: x })).length === 3);
    expect(await items(x)).toEqual([[2, 10]]);
  });

  it('lists and inspects dead letters for an operator', async () => {
    printed.length = 0;
    expect(await dlqList(tools, { key: x })).toBe(0);
    expect(printed.filter((l) => l.includes(x)).map((l) => / (dead|held) /.exec(l)?.[1])).toEqual(['dead', 'held', 'held']);
    const dead = (await listParked(h.pool, { key: x }))[0]!;
    printed.length = 0;
    expect(await dlqInspect(tools, dead.id)).toBe(0);
    const text = printed.join('\n');
    expect(text).toContain('projection_error');
    expect(text).toContain(`offset ${dead.raw.offset}`);
    expect(text).toContain('FundsDeposited');
    expect(text).toMatch(/"amount": 13/);
  });

  it('once the projection is fixed, a re-drive applies the dead event and the ones held behind it, in order', async () => {
    // The tools run the projections of this build: the fixed code.
    printed.length = 0;
    expect(await dlqRedrive(tools, { key: x })).toBe(0);
    expect(await items(x)).toEqual([
      [5, 1],
      [4, 5],
      [3, 13],
      [2, 10],
    ]);
    expect(await listParked(h.pool, { key: x })).toEqual([]);
    expect((await listParked(h.pool, { key: x, states: ['resolved'] })).map((p) => p.resolution)).toEqual([
      'redriven',
      'redriven',
      'redriven',
    ]);

    bug.broken = false; // the live engine runs the fixed code too from here on
    await h.produce([deposited(x, 6, 2, 31)]);
    await waitFor('the key to flow again', async () => (await items(x)).length === 5);
  });

  it('skip resolves an undecodable dead letter without applying it and re-drives what it held', async () => {
    const k = uuidv7();
    await h.produceRaw(k, Buffer.from('garbage'));
    await h.produce([opened(k), deposited(k, 2, 4, 4)]);
    await waitFor('the key to be held', async () => (await listParked(h.pool, { key: k, projection: 'wallet' })).length === 3);
    const dead = (await listParked(h.pool, { key: k, projection: 'wallet' }))[0]!;
    expect(dead.code).toBe('bad_wire_format');

    expect(await dlqRedrive(tools, { id: dead.id, skip: true })).toBe(0);
    expect(await findWallet(h.pool, k)).toMatchObject({ balance: 4, version: 2 });
    expect((await listParked(h.pool, { key: k, projection: 'wallet', states: ['resolved'] })).map((p) => p.resolution)).toEqual([
      'skipped',
      'redriven',
      'redriven',
    ]);
  });
});

describe('a statement the database refuses, while the other projections write beside it', () => {
  it('aborts the optimistic try of every projection; the batch runs again with savepoints, the others apply once and the event is parked', async () => {
    const w = uuidv7();
    const savepointRetries = await metric(running.registry, 'sluice_projector_savepoint_retries_total');
    // One batch: the three projections' steps run at once, and the failing statement aborts the
    // transaction under the wallet and withdrawals projections' statements.
    await h.produce([opened(w), deposited(w, 2, 17, 17), deposited(w, 3, 6, 23)]);
    await waitFor(
      'the transactions projection parks the deposit of 17',
      async () => (await listParked(h.pool, { key: w })).length === 2,
    );
    await h.caughtUp();

    expect(await findWallet(h.pool, w)).toMatchObject({ balance: 23, version: 3 });
    expect(await items(w)).toEqual([]);
    const parked = await listParked(h.pool, { key: w });
    expect(parked.map((p) => [p.projection, p.aggregateVersion, p.state, p.code])).toEqual([
      ['transactions', 2, 'dead', 'pg_22012'],
      ['transactions', 3, 'held', 'held'],
    ]);
    expect(await metric(running.registry, 'sluice_projector_savepoint_retries_total')).toBeGreaterThan(savepointRetries);
  });
});
