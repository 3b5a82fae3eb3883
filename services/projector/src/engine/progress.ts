/**
 * Liveness from progress: a partition is stalled when it has records waiting
 * (lag > 0 at its last batch) and has committed nothing for stallMs. An idle
 * partition with nothing to read is never stalled.
 */
export class PartitionProgress {
  private readonly partitions = new Map<number, { lag: bigint; lastProgressAt: number }>();

  constructor(
    private readonly stallMs: number,
    private readonly clock: () => number = Date.now,
  ) {}

  /** Replaces the tracked set; newly assigned partitions get a full stallMs of grace. */
  assign(partitions: readonly number[]): void {
    const now = this.clock();
    const kept = new Map([...this.partitions].filter(([p]) => partitions.includes(p)));
    this.partitions.clear();
    for (const p of partitions) this.partitions.set(p, kept.get(p) ?? { lag: 0n, lastProgressAt: now });
  }

  /** Records seen waiting, before the batch is applied, so a batch that keeps failing still counts as pending work. */
  observeLag(partition: number, lag: bigint): void {
    const state = this.partitions.get(partition);
    if (state) state.lag = lag;
  }

  progressed(partition: number, lag: bigint): void {
    const state = this.partitions.get(partition);
    if (state) {
      state.lag = lag;
      state.lastProgressAt = this.clock();
    }
  }

  lastProgressAt(partition: number): number | undefined {
    return this.partitions.get(partition)?.lastProgressAt;
  }

  /** A reason when some partition is stalled, undefined otherwise. */
  stalled(): string | undefined {
    const now = this.clock();
    for (const [partition, { lag, lastProgressAt }] of this.partitions) {
      if (lag > 0n && now - lastProgressAt > this.stallMs) {
        return `partition ${partition} has ${lag} records waiting and no progress for ${now - lastProgressAt} ms`;
      }
    }
    return undefined;
  }
}
