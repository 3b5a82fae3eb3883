import type { Logger } from '@sluice/observability';
import { assertNever } from './assert-never';
import type { BatchResult } from './batch-applier';
import type { ProjectorMetrics } from './metrics';
import type { PartitionProgress } from './progress';

/**
 * Turns a committed batch into metrics, progress and log lines. Duplicates
 * are expected (the relay repeats records after a crash) and log at debug;
 * rejections and undecodable records mean something upstream is wrong and
 * log at warn, each with its offset so it can be found on the topic.
 */
export class BatchReporter {
  constructor(
    private readonly topic: string,
    private readonly projection: string,
    private readonly metrics: ProjectorMetrics,
    private readonly progress: PartitionProgress,
    private readonly logger: Logger,
    private readonly clock: () => number,
  ) {}

  report(partition: number, result: BatchResult, highWatermark: bigint, size: number, started: number): void {
    const { topic, projection } = this;
    const lag = highWatermark > result.nextOffset ? highWatermark - result.nextOffset : 0n;
    const labels = { topic, partition: String(partition) };
    this.progress.progressed(partition, lag);
    this.metrics.lag.set(labels, Number(lag));
    this.metrics.lastProgress.set(labels, this.clock() / 1000);
    this.metrics.batchSize.observe({ projection }, size);
    this.metrics.batchDuration.observe({ projection }, (this.clock() - started) / 1000);
    if (result.alreadyCheckpointed > 0) {
      this.metrics.skipped.inc({ projection, reason: 'already_checkpointed' }, result.alreadyCheckpointed);
      this.logger.info(
        { partition, count: result.alreadyCheckpointed, storedOffset: String(result.storedOffset) },
        'skipped records below the checkpoint',
      );
    }
    for (const r of result.results) {
      switch (r.status) {
        case 'applied':
          this.metrics.applied.inc({ projection, event_type: r.eventType });
          break;
        case 'duplicate':
          this.metrics.skipped.inc({ projection, reason: 'duplicate' });
          this.logger.debug(
            { partition, offset: String(r.offset), eventType: r.eventType, key: r.key },
            'duplicate event skipped',
          );
          break;
        case 'rejected':
          this.metrics.skipped.inc({ projection, reason: r.reason });
          this.logger.warn(
            { partition, offset: String(r.offset), eventType: r.eventType, key: r.key, reason: r.reason, detail: r.detail },
            'event rejected by the projection',
          );
          break;
        case 'ignored':
          this.metrics.skipped.inc({ projection, reason: 'not_projected' });
          break;
        case 'undecodable':
          this.metrics.undecodable.inc({ projection, reason: r.reason });
          this.logger.warn(
            { partition, offset: String(r.offset), reason: r.reason, detail: r.detail },
            'undecodable record skipped',
          );
          break;
        default:
          assertNever(r);
      }
    }
  }
}
