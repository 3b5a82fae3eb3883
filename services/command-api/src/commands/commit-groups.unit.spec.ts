import { Registry } from 'prom-client';
import { metricValue } from '@sluice/testing';
import { CommitGroups } from './commit-groups';

interface Item {
  id: string;
  wallet: string;
  solo?: boolean;
}

/** Commit groups whose batches finish only when the test says so. */
function harness(transactions: number, maxBatch: number, registry?: Registry) {
  const batches: string[][] = [];
  const finishers: (() => void)[] = [];
  let running = 0;
  let maxRunning = 0;
  const groups = new CommitGroups<Item>({
    transactions,
    maxBatch,
    keysOf: (item) => [item.wallet],
    solo: (item) => item.solo === true,
    run: (batch) =>
      new Promise<void>((resolve) => {
        batches.push(batch.map((i) => i.id));
        running++;
        maxRunning = Math.max(maxRunning, running);
        finishers.push(() => {
          running--;
          resolve();
        });
      }),
    ...(registry && { registry }),
  });
  const finishNext = async () => {
    finishers.shift()!();
    await new Promise((r) => setImmediate(r));
  };
  return { groups, batches, finishNext, maxRunning: () => maxRunning };
}

describe('CommitGroups (group commit scheduling)', () => {
  it('starts an item at once and alone when a transaction is free', () => {
    const { groups, batches } = harness(2, 10);
    groups.submit({ id: 'a', wallet: 'w1' });
    expect(batches).toEqual([['a']]);
    groups.submit({ id: 'b', wallet: 'w2' });
    expect(batches).toEqual([['a'], ['b']]);
  });

  it('sends the items that arrive while every transaction is busy together, up to maxBatch, in arrival order', async () => {
    const { groups, batches, finishNext, maxRunning } = harness(1, 3);
    groups.submit({ id: 'a', wallet: 'w1' });
    for (const id of ['b', 'c', 'd', 'e']) groups.submit({ id, wallet: `w-${id}` });
    expect(batches).toEqual([['a']]);
    await finishNext();
    expect(batches).toEqual([['a'], ['b', 'c', 'd']]);
    await finishNext();
    expect(batches).toEqual([['a'], ['b', 'c', 'd'], ['e']]);
    expect(maxRunning()).toBe(1);
    expect(groups.queued).toBe(0);
  });

  it('never puts two items with a shared key in one batch; the later one goes in a later batch', async () => {
    const { groups, batches, finishNext } = harness(1, 10);
    groups.submit({ id: 'a', wallet: 'w0' });
    groups.submit({ id: 'b', wallet: 'w1' });
    groups.submit({ id: 'c', wallet: 'w1' });
    groups.submit({ id: 'd', wallet: 'w2' });
    await finishNext();
    expect(batches[1]).toEqual(['b', 'd']);
    await finishNext();
    expect(batches[2]).toEqual(['c']);
  });

  it('runs a solo item in a batch of its own, in its turn', async () => {
    const { groups, batches, finishNext } = harness(1, 10);
    groups.submit({ id: 'a', wallet: 'w0' });
    groups.submit({ id: 's', wallet: 'w1', solo: true });
    groups.submit({ id: 'b', wallet: 'w2' });
    groups.submit({ id: 'c', wallet: 'w3' });
    await finishNext();
    expect(batches[1]).toEqual(['s']);
    await finishNext();
    expect(batches[2]).toEqual(['b', 'c']);
  });

  it('runs at most `transactions` batches at once and reports its queue, transactions and batch sizes', async () => {
    const registry = new Registry();
    const { groups, batches, finishNext, maxRunning } = harness(2, 2, registry);
    for (let i = 0; i < 7; i++) groups.submit({ id: String(i), wallet: `w${i}` });
    expect(batches).toEqual([['0'], ['1']]);
    expect(groups.inFlight).toBe(2);
    expect(groups.queued).toBe(5);
    const text = await registry.metrics();
    expect(metricValue(text, 'sluice_command_group_queue_depth')).toBe(5);
    expect(metricValue(text, 'sluice_command_group_transactions')).toBe(2);
    expect(metricValue(text, 'sluice_command_group_transactions_max')).toBe(2);
    while (groups.inFlight > 0) await finishNext();
    expect(batches.slice(2)).toEqual([['2', '3'], ['4', '5'], ['6']]);
    expect(maxRunning()).toBe(2);
    expect(metricValue(await registry.metrics(), 'sluice_command_group_size_count')).toBe(5);
  });
});
