import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** The projector's instruments, registered on the injected registry. */
export class ProjectorMetrics {
  /** rate() of it is events applied per second. */
  readonly applied: Counter<'projection' | 'event_type'>;
  /** Records read but not folded in: duplicate, already_checkpointed, not_folded. */
  readonly skipped: Counter<'projection' | 'reason'>;
  readonly deadLetters: Counter<'projection' | 'code'>;
  readonly held: Counter<'projection'>;
  /** Attempts that failed and were retried, by who was to blame (record, systemic). */
  readonly retries: Counter<'projection' | 'blame'>;
  readonly batchFailures: Counter<'projection'>;
  /** Batches whose first try, without savepoints, was rolled back and run again with them. */
  readonly savepointRetries: Counter;
  /** Partitions whose batches one grouped transaction applied. */
  readonly transactionPartitions: Histogram;
  /** Batches whose group failed as a whole and which were applied on their own. */
  readonly groupFallbacks: Counter;
  readonly batchSize: Histogram<'projection'>;
  readonly batchDuration: Histogram<'projection'>;
  readonly lagRecords: Gauge<'projection' | 'topic' | 'partition'>;
  readonly lagSeconds: Gauge<'projection' | 'topic' | 'partition'>;
  readonly lastProgress: Gauge<'topic' | 'partition'>;

  constructor(registry: Registry) {
    const registers = [registry];
    this.applied = new Counter({
      name: 'sluice_projector_events_applied_total',
      help: 'Events folded into a read model',
      labelNames: ['projection', 'event_type'],
      registers,
    });
    this.skipped = new Counter({
      name: 'sluice_projector_events_skipped_total',
      help: 'Records read but not folded in, by reason (duplicate, already_checkpointed, not_folded)',
      labelNames: ['projection', 'reason'],
      registers,
    });
    this.deadLetters = new Counter({
      name: 'sluice_projector_dead_letters_total',
      help: 'Records parked as dead letters, by error code',
      labelNames: ['projection', 'code'],
      registers,
    });
    this.held = new Counter({
      name: 'sluice_projector_events_held_total',
      help: 'Records held behind a dead letter of the same key',
      labelNames: ['projection'],
      registers,
    });
    this.retries = new Counter({
      name: 'sluice_projector_retries_total',
      help: 'Failed attempts at a batch that were retried, by who was to blame (record or systemic)',
      labelNames: ['projection', 'blame'],
      registers,
    });
    this.transactionPartitions = new Histogram({
      name: 'sluice_projector_transaction_partitions',
      help: 'Partitions whose batches one grouped transaction applied (groups of two or more)',
      buckets: [2, 3, 4, 6, 8, 12, 16, 32],
      registers,
    });
    this.groupFallbacks = new Counter({
      name: 'sluice_projector_group_fallbacks_total',
      help: 'Batches whose grouped transaction failed as a whole and which were applied on their own',
      registers,
    });
    this.savepointRetries = new Counter({
      name: 'sluice_projector_savepoint_retries_total',
      help: 'Batches whose first try without savepoints met a failing or rejected event and ran again with savepoints',
      registers,
    });
    this.batchFailures = new Counter({
      name: 'sluice_projector_batch_failures_total',
      help: 'Batch transactions that failed as a whole (database or network); they are retried',
      labelNames: ['projection'],
      registers,
    });
    this.batchSize = new Histogram({
      name: 'sluice_projector_batch_size',
      help: 'Records per batch',
      labelNames: ['projection'],
      buckets: [1, 5, 10, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000],
      registers,
    });
    this.batchDuration = new Histogram({
      name: 'sluice_projector_batch_duration_seconds',
      help: 'Time from receiving a batch to its transaction committing',
      labelNames: ['projection'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.lagRecords = new Gauge({
      name: 'sluice_projector_lag_records',
      help: 'Records between the projection version’s checkpoint and the high watermark, per partition',
      labelNames: ['projection', 'topic', 'partition'],
      registers,
    });
    this.lagSeconds = new Gauge({
      name: 'sluice_projector_lag_seconds',
      help: 'How far behind the partition’s newest record the read model is, seconds (0 when caught up)',
      labelNames: ['projection', 'topic', 'partition'],
      registers,
    });
    this.lastProgress = new Gauge({
      name: 'sluice_projector_last_progress_timestamp_seconds',
      help: 'When the partition last committed a batch (or was assigned), Unix seconds',
      labelNames: ['topic', 'partition'],
      registers,
    });
  }

  /** A partition this member no longer owns: its series would otherwise stay frozen at their last value. */
  forgetPartition(topic: string, partition: number, projections: readonly string[]): void {
    const p = String(partition);
    this.lastProgress.remove({ topic, partition: p });
    for (const projection of projections) {
      this.lagRecords.remove({ projection, topic, partition: p });
      this.lagSeconds.remove({ projection, topic, partition: p });
    }
  }
}
