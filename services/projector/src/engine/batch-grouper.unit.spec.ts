import { BatchGrouper } from './batch-grouper';
import type { ApplyOptions, BatchOutcome, PartitionApplier, PartitionBatch } from './partition-applier';
import type { BatchRecord } from './records';

const fresh: ApplyOptions = { highWatermark: 0n, isolate: new Set(), attempts: new Map() };
const records = [{}] as unknown as BatchRecord[];
const outcome = (partition: number): BatchOutcome => ({ reports: [], stop: false, seekTo: BigInt(partition), deadLetters: 0 });

/** A PartitionApplier double that records how it was called. */
function fakeApplier(options: { groupFails?: boolean; failAlone?: number[] } = {}) {
  const calls: string[] = [];
  let release: (() => void) | undefined;
  const applier = {
    holdGroups: false,
    async applyGroup(batches: readonly PartitionBatch[]): Promise<BatchOutcome[]> {
      calls.push(`group ${batches.map((b) => b.partition).join(',')}`);
      if (applier.holdGroups) await new Promise<void>((r) => (release = r));
      if (options.groupFails) throw new Error('deadlock detected');
      return batches.map((b) => outcome(b.partition));
    },
    async apply(partition: number): Promise<BatchOutcome> {
      calls.push(`alone ${partition}`);
      if (options.failAlone?.includes(partition)) throw new Error(`partition ${partition} failed`);
      return outcome(partition);
    },
  };
  return { applier, calls, release: () => release?.() };
}

describe('BatchGrouper', () => {
  it('applies the batches handed over in one turn in one transaction, and gives each caller its own outcome', async () => {
    const { applier, calls } = fakeApplier();
    const sizes: number[] = [];
    const grouper = new BatchGrouper(applier as unknown as PartitionApplier, 100, { grouped: (n) => sizes.push(n) });
    const outcomes = await Promise.all([3, 1, 7].map((p) => grouper.apply(p, records, fresh)));
    expect(calls).toEqual(['group 3,1,7']);
    expect(outcomes.map((o) => o.seekTo)).toEqual([3n, 1n, 7n]);
    expect(sizes).toEqual([3]);
  });

  it('applies a lone batch in a transaction of its own, with the applier’s savepoint fallback', async () => {
    const { applier, calls } = fakeApplier();
    await new BatchGrouper(applier as unknown as PartitionApplier, 100).apply(4, records, fresh);
    expect(calls).toEqual(['alone 4']);
  });

  it('falls back to one transaction per partition when the group fails, so only the failing batch fails', async () => {
    const { applier, calls } = fakeApplier({ groupFails: true, failAlone: [2] });
    const fellBack: number[] = [];
    const grouper = new BatchGrouper(applier as unknown as PartitionApplier, 100, { fellBack: (n) => fellBack.push(n) });
    const results = await Promise.allSettled([1, 2, 3].map((p) => grouper.apply(p, records, fresh)));
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(calls).toEqual(['group 1,2,3', 'alone 1', 'alone 2', 'alone 3']);
    expect(fellBack).toEqual([3]);
  });

  it('leaves a batch of maxRecords or more to a transaction of its own, beside the group', async () => {
    const { applier, calls } = fakeApplier();
    const grouper = new BatchGrouper(applier as unknown as PartitionApplier, 100);
    const large = Array.from({ length: 100 }, () => ({})) as unknown as BatchRecord[];
    await Promise.all([grouper.apply(1, records, fresh), grouper.apply(2, large, fresh), grouper.apply(3, records, fresh)]);
    expect(calls).toEqual(['alone 2', 'group 1,3']);
  });

  it('sends a batch that failed before straight to its own transaction', async () => {
    const { applier, calls } = fakeApplier();
    const retried: ApplyOptions = { ...fresh, attempts: new Map([['wallet', 1]]) };
    await new BatchGrouper(applier as unknown as PartitionApplier, 100).apply(5, records, retried);
    expect(calls).toEqual(['alone 5']);
  });

  it('groups the batches that arrive while a group is applied into the next one', async () => {
    const fake = fakeApplier();
    fake.applier.holdGroups = true;
    const grouper = new BatchGrouper(fake.applier as unknown as PartitionApplier, 100);
    const first = Promise.all([0, 1].map((p) => grouper.apply(p, records, fresh)));
    await new Promise((r) => setImmediate(r));
    const second = Promise.all([2, 3].map((p) => grouper.apply(p, records, fresh)));
    await new Promise((r) => setImmediate(r));
    expect(fake.calls).toEqual(['group 0,1']);
    fake.applier.holdGroups = false;
    fake.release();
    await Promise.all([first, second]);
    expect(fake.calls).toEqual(['group 0,1', 'group 2,3']);
  });
});
