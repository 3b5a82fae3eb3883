import { PartitionProgress } from './progress';

describe('PartitionProgress (liveness from progress)', () => {
  let now = 0;
  const clock = () => now;

  beforeEach(() => {
    now = 1_000_000;
  });

  it('given an idle partition with nothing waiting, when time passes, then it is not stalled', () => {
    const progress = new PartitionProgress(10_000, clock);
    progress.assign([0, 1]);
    now += 60_000;
    expect(progress.stalled()).toBeUndefined();
  });

  it('given records waiting, when nothing commits for longer than the stall time, then it is stalled', () => {
    const progress = new PartitionProgress(10_000, clock);
    progress.assign([0, 1]);
    progress.observeLag(1, 42n);
    now += 10_001;
    expect(progress.stalled()).toMatch(/partition 1 has 42 records waiting/);
  });

  it('given records waiting, when a batch commits, then the stall clock starts again', () => {
    const progress = new PartitionProgress(10_000, clock);
    progress.assign([0]);
    progress.observeLag(0, 5n);
    now += 9_000;
    progress.progressed(0, 3n);
    now += 9_000;
    expect(progress.stalled()).toBeUndefined();
  });

  it('given a stalled partition, when it is revoked, then it no longer counts', () => {
    const progress = new PartitionProgress(10_000, clock);
    progress.assign([0, 1]);
    progress.observeLag(1, 5n);
    now += 20_000;
    progress.assign([0]);
    expect(progress.stalled()).toBeUndefined();
  });

  it('given a kept partition, when the group rebalances, then its stall clock is not reset', () => {
    const progress = new PartitionProgress(10_000, clock);
    progress.assign([0]);
    progress.observeLag(0, 5n);
    now += 6_000;
    progress.assign([0, 1]);
    now += 6_000;
    expect(progress.stalled()).toMatch(/partition 0/);
  });
});
