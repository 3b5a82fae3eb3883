import type { Logger } from '@sluice/observability';
import { assertNever } from './assert-never';
import type { ProjectorMetrics } from './metrics';
import type { BatchOutcome } from './partition-applier';
import type { PartitionProgress } from './progress';
import type { StepRecord } from './projection-step';

/**
 * Turns a committed batch into metrics, progress and log lines. Duplicates
 * are expected (the relay repeats records after a crash) and log at debug;
 * dead letters mean something upstream or in a projection is wrong and log at
 * warn, each with its offset so it can be found on the topic.
 */
export class BatchReporter {
  constructor(
    private readonly topic: string,
    private readonly metrics: ProjectorMetrics,
    private readonly progress: PartitionProgress,
    private readonly logger: Logger,
    private readonly clock: () => number,
  ) {}

  report(partition: number, outcome: BatchOutcome, size: number, started: number): void {
    const { topic, metrics } = this;
    const now = this.clock();
    let progressed = false;
    let lag = 0;
    for (const r of outcome.reports) {
      const projection = r.target.projection;
      switch (r.status) {
        case 'applied': {
          progressed = true;
          lag = Math.max(lag, r.lagRecords);
          const labels = { projection, topic, partition: String(partition) };
          metrics.lagRecords.set(labels, r.lagRecords);
          metrics.lagSeconds.set(
            labels,
            r.lagRecords > 0 && r.lastRecordAt ? Math.max(0, (now - r.lastRecordAt.getTime()) / 1000) : 0,
          );
          metrics.batchSize.observe({ projection }, size);
          metrics.batchDuration.observe({ projection }, (now - started) / 1000);
          if (r.alreadyCheckpointed > 0) this.skippedBelow(projection, partition, r.alreadyCheckpointed);
          this.records(projection, partition, r.step.records);
          break;
        }
        case 'checkpointed':
          progressed = true;
          this.skippedBelow(projection, partition, r.alreadyCheckpointed);
          break;
        case 'behind':
          this.logger.info(
            { projection, partition, storedOffset: String(r.storedOffset) },
            'checkpoint below the batch; fetching from it',
          );
          break;
        case 'done':
        case 'failed':
          break;
        default:
          assertNever(r);
      }
    }
    if (progressed) {
      this.progress.progressed(partition, BigInt(lag));
      metrics.lastProgress.set({ topic, partition: String(partition) }, now / 1000);
    }
  }

  private skippedBelow(projection: string, partition: number, count: number): void {
    this.metrics.skipped.inc({ projection, reason: 'already_checkpointed' }, count);
    this.logger.debug({ projection, partition, count }, 'skipped records below the checkpoint');
  }

  /** Counts first and increments once per label set: a batch has thousands of records and a handful of labels. */
  private records(projection: string, partition: number, records: readonly StepRecord[]): void {
    const { metrics } = this;
    const applied = new Map<string, number>();
    let duplicates = 0;
    let notFolded = 0;
    for (const r of records) {
      const { verdict } = r;
      switch (verdict.kind) {
        case 'fold':
          if (r.outcome === 'duplicate') duplicates++;
          else applied.set(r.eventType ?? 'unknown', (applied.get(r.eventType ?? 'unknown') ?? 0) + 1);
          break;
        case 'pass':
        case 'ignore':
          notFolded++;
          break;
        case 'duplicate':
          duplicates++;
          this.logger.debug(
            { projection, partition, offset: String(r.record.raw.offset), key: r.record.key, head: verdict.head },
            'duplicate event skipped',
          );
          break;
        case 'dead':
          metrics.deadLetters.inc({ projection, code: verdict.code });
          this.logger.warn(
            {
              projection,
              partition,
              offset: String(r.record.raw.offset),
              key: r.record.key,
              eventType: r.eventType,
              code: verdict.code,
              detail: verdict.detail,
              attempts: verdict.attempts,
            },
            'record parked as a dead letter; later records of its key are held',
          );
          break;
        case 'held':
          metrics.held.inc({ projection });
          this.logger.info(
            { projection, partition, offset: String(r.record.raw.offset), key: r.record.key },
            'record held behind a dead letter of its key',
          );
          break;
        default:
          assertNever(verdict);
      }
    }
    for (const [eventType, n] of applied) metrics.applied.inc({ projection, event_type: eventType }, n);
    if (duplicates > 0) metrics.skipped.inc({ projection, reason: 'duplicate' }, duplicates);
    if (notFolded > 0) metrics.skipped.inc({ projection, reason: 'not_folded' }, notFolded);
  }
}
