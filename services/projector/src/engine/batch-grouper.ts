import type { ApplyOptions, BatchOutcome, PartitionApplier, PartitionBatch } from './partition-applier';
import type { BatchRecord } from './records';

/** What BatchRunner applies a partition's batch with. */
export interface BatchApplier {
  apply(partition: number, records: readonly BatchRecord[], opts: ApplyOptions): Promise<BatchOutcome>;
}

interface Waiting extends PartitionBatch {
  readonly resolve: (outcome: BatchOutcome) => void;
  readonly reject: (err: unknown) => void;
}

/**
 * Applies the batches of partitions consumed concurrently in one transaction.
 * The consumer hands over several partitions' batches from one fetch at about
 * the same moment; at moderate rates each holds a few records, and a
 * transaction per partition paid its BEGIN, target resolution, notification,
 * COMMIT and WAL flush for each. Batches that arrive while a group is being
 * applied form the next group. Only small batches are grouped (fewer records
 * than `maxRecords`): large ones, as in a backlog, keep a transaction each and
 * run side by side, which the projector benchmark measured faster than one
 * transaction after another. A group that fails as a whole falls back to one
 * transaction per partition (PartitionApplier.apply, with its own retries to
 * savepoints), so a failing batch never holds up the others' outcome; a batch
 * already retried by BatchRunner goes straight to its own transaction.
 */
export class BatchGrouper implements BatchApplier {
  private waiting: Waiting[] = [];
  private applying = false;

  constructor(
    private readonly applier: PartitionApplier,
    private readonly maxRecords: number,
    private readonly observe: { grouped?(size: number): void; fellBack?(size: number): void } = {},
  ) {}

  apply(partition: number, records: readonly BatchRecord[], opts: ApplyOptions): Promise<BatchOutcome> {
    if (records.length >= this.maxRecords || opts.isolate.size > 0 || opts.attempts.size > 0) {
      return this.applier.apply(partition, records, opts);
    }
    return new Promise<BatchOutcome>((resolve, reject) => {
      this.waiting.push({ partition, records, opts, resolve, reject });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.applying || this.waiting.length === 0) return;
    this.applying = true;
    // After the current turn: the other partitions of the same fetch join the group.
    setImmediate(() => void this.applyWaiting());
  }

  private async applyWaiting(): Promise<void> {
    const group = this.waiting;
    this.waiting = [];
    try {
      if (group.length === 1) {
        await this.alone(group[0]!);
        return;
      }
      let outcomes: BatchOutcome[] | undefined;
      try {
        outcomes = await this.applier.applyGroup(group);
      } catch {
        outcomes = undefined;
      }
      if (outcomes) {
        this.observe.grouped?.(group.length);
        group.forEach((b, i) => b.resolve(outcomes[i]!));
      } else {
        this.observe.fellBack?.(group.length);
        await Promise.all(group.map((b) => this.alone(b)));
      }
    } finally {
      this.applying = false;
      this.schedule();
    }
  }

  private alone(b: Waiting): Promise<void> {
    return this.applier.apply(b.partition, b.records, b.opts).then(b.resolve, b.reject);
  }
}
