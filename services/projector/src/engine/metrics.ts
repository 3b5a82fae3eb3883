import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** The projector's instruments, registered on the injected registry. */
export class ProjectorMetrics {
  readonly applied: Counter<'projection' | 'event_type'>;
  /** Records read but not folded in: duplicates, rejections, already checkpointed, ignored types. */
  readonly skipped: Counter<'projection' | 'reason'>;
  readonly undecodable: Counter<'projection' | 'reason'>;
  readonly batchFailures: Counter<'projection'>;
  readonly batchSize: Histogram<'projection'>;
  readonly batchDuration: Histogram<'projection'>;
  /** High watermark − next offset, as of the partition's last batch. */
  readonly lag: Gauge<'topic' | 'partition'>;
  readonly lastProgress: Gauge<'topic' | 'partition'>;

  constructor(registry: Registry) {
    const registers = [registry];
    this.applied = new Counter({
      name: 'sluice_projector_events_applied_total',
      help: 'Events folded into the read model',
      labelNames: ['projection', 'event_type'],
      registers,
    });
    this.skipped = new Counter({
      name: 'sluice_projector_events_skipped_total',
      help: 'Records read but not folded in, by reason (duplicate, already_checkpointed, version_gap, ...)',
      labelNames: ['projection', 'reason'],
      registers,
    });
    this.undecodable = new Counter({
      name: 'sluice_projector_events_undecodable_total',
      help: 'Records whose value is not a decodable event, by codec error code',
      labelNames: ['projection', 'reason'],
      registers,
    });
    this.batchFailures = new Counter({
      name: 'sluice_projector_batch_failures_total',
      help: 'Batches whose transaction failed (they are fetched and tried again)',
      labelNames: ['projection'],
      registers,
    });
    this.batchSize = new Histogram({
      name: 'sluice_projector_batch_size',
      help: 'Records per batch',
      labelNames: ['projection'],
      buckets: [1, 5, 10, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000],
      registers,
    });
    this.batchDuration = new Histogram({
      name: 'sluice_projector_batch_duration_seconds',
      help: 'Time from receiving a batch to its transaction committing',
      labelNames: ['projection'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.lag = new Gauge({
      name: 'sluice_projector_lag',
      help: 'Records behind the high watermark per partition, as of its last batch',
      labelNames: ['topic', 'partition'],
      registers,
    });
    this.lastProgress = new Gauge({
      name: 'sluice_projector_last_progress_timestamp_seconds',
      help: 'When the partition last committed a batch (or was assigned), Unix seconds',
      labelNames: ['topic', 'partition'],
      registers,
    });
  }

  forgetPartition(topic: string, partition: number): void {
    const labels = { topic, partition: String(partition) };
    this.lag.remove(labels);
    this.lastProgress.remove(labels);
  }
}
