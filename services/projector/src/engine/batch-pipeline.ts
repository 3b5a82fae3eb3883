import { setTimeout as sleep } from 'node:timers/promises';
import type { Pool } from 'pg';
import type { AvroEventCodec } from '@sluice/messaging';
import type { Freshness, Logger, Tracer } from '@sluice/observability';
import { AppliedTrace } from './applied-trace';
import { BatchGrouper } from './batch-grouper';
import { BatchReporter } from './batch-report';
import { BatchRunner, type RetryPolicy } from './batch-runner';
import type { DeadLetterPublisher } from './dead-letters';
import { backoffMs } from './failures';
import type { ProjectorMetrics } from './metrics';
import { PartitionApplier } from './partition-applier';
import type { PartitionProgress } from './progress';
import { decodeRecords, type BatchRecord, type RawRecord } from './records';
import type { TargetResolver } from './targets';

export const DEFAULT_RETRY: RetryPolicy = {
  maxAttempts: 5,
  record: { baseMs: 100, maxMs: 5_000 },
  systemic: { baseMs: 200, maxMs: 30_000 },
};

const DEFAULT_GROUP_MAX_RECORDS = 256;

export interface BatchPipelineOptions {
  pool: Pool;
  codec: AvroEventCodec;
  /** Which projection versions the batches write: the live ones, or one pinned version (rebuild, replay). */
  targets: TargetResolver;
  topic: string;
  groupId: string;
  metrics: ProjectorMetrics;
  retry?: RetryPolicy;
  /** Live only. */
  deadLetters?: DeadLetterPublisher;
  /** Live only: NOTIFY readers of the keys each batch changed. */
  notify?: boolean;
  synchronousCommit?: boolean;
  /** Batches of fewer records than this, of partitions consumed concurrently, share one transaction (BatchGrouper); 0 = never. */
  groupMaxRecords?: number;
  /** Live only: an apply span per record of a recorded trace, once its batch committed; unset, none. */
  tracer?: Tracer;
  /** Live only: commit → applied and published → applied per record. */
  freshness?: Freshness;
  /** Called once when the targets resolve to nothing (a rebuild's version went live or was abandoned). */
  onTargetsGone?: () => void;
}

/** What the consumer does with the batch once the pipeline is through with it. */
export type BatchVerdict =
  /** Done with: Kafka's offset may move past it. */
  | { readonly kind: 'commit' }
  /** Not done with: fetched again from where it started. */
  | { readonly kind: 'release' }
  /** The checkpoint is elsewhere: fetch again from there. */
  | { readonly kind: 'seek'; readonly offset: bigint };

/** What the consumer lends the pipeline for one batch. */
export interface BatchHooks {
  /** Aborted when the engine stops: waits end at once and nothing new starts. */
  readonly signal: AbortSignal;
  /** False once the partition was revoked. */
  stillOwned(): boolean;
  /** Keeps the group membership alive during a long wait; throws when the group rebalances. */
  heartbeat(): Promise<void>;
}

/**
 * What happens to one partition's batch between its fetch and its offset:
 * decoded (waiting out the registry), applied with its checkpoints in one
 * transaction per projection version (PartitionApplier, small batches of
 * several partitions grouped by BatchGrouper), retried until it commits
 * (BatchRunner), reported and traced. Knows nothing of the consumer: it
 * answers with a verdict, and the engine commits, releases or seeks.
 */
export class BatchPipeline {
  private readonly runner: BatchRunner;
  private readonly reporter: BatchReporter;
  private readonly appliedTrace: AppliedTrace;
  private targetsGone = false;

  constructor(
    private readonly options: BatchPipelineOptions,
    private readonly progress: PartitionProgress,
    private readonly logger: Logger,
    private readonly clock: () => number,
  ) {
    const applier = new PartitionApplier({
      pool: options.pool,
      topic: options.topic,
      groupId: options.groupId,
      resolver: options.targets,
      ...(options.deadLetters && { deadLetters: options.deadLetters }),
      notify: options.notify ?? false,
      synchronousCommit: options.synchronousCommit ?? true,
      onSavepointRetry: () => options.metrics.savepointRetries.inc(),
    });
    const groupMaxRecords = options.groupMaxRecords ?? DEFAULT_GROUP_MAX_RECORDS;
    const grouped =
      groupMaxRecords === 0
        ? applier
        : new BatchGrouper(applier, groupMaxRecords, {
            grouped: (size) => options.metrics.transactionPartitions.observe(size),
            fellBack: (size) => options.metrics.groupFallbacks.inc(size),
          });
    this.runner = new BatchRunner(grouped, options.retry ?? DEFAULT_RETRY, options.metrics, this.logger);
    this.reporter = new BatchReporter(options.topic, options.metrics, this.progress, this.logger, this.clock);
    this.appliedTrace = new AppliedTrace({
      topic: options.topic,
      groupId: options.groupId,
      ...(options.tracer && { tracer: options.tracer }),
      ...(options.freshness && { freshness: options.freshness }),
    });
  }

  /** One partition's batch (not empty), up to its verdict. */
  async handle(partition: number, raws: readonly RawRecord[], highWatermark: bigint, hooks: BatchHooks): Promise<BatchVerdict> {
    const first = raws[0];
    if (!first || this.targetsGone) return { kind: 'release' };
    const started = this.clock();
    this.progress.observeLag(partition, highWatermark - first.offset);
    const records = await this.decode(raws, hooks);
    if (!records) return { kind: 'release' };
    const result = await this.runner.run(partition, records, highWatermark, {
      signal: hooks.signal,
      stillOwned: () => hooks.stillOwned(),
      heartbeat: () => hooks.heartbeat(),
      committed: (outcome) => this.reporter.report(partition, outcome, records.length, started),
    });
    switch (result.kind) {
      case 'abandoned':
        this.logger.info(
          { partition, reason: result.reason, firstOffset: String(first.offset) },
          'batch abandoned; it is fetched again',
        );
        return { kind: 'release' };
      case 'stop':
        if (!this.targetsGone) {
          this.targetsGone = true;
          this.logger.info('nothing left to write for this engine');
          this.options.onTargetsGone?.();
        }
        return { kind: 'release' };
      case 'committed':
        this.appliedTrace.applied(records, started, this.clock());
        break;
    }
    const { seekTo } = result.outcome;
    return seekTo === undefined ? { kind: 'commit' } : { kind: 'seek', offset: seekTo };
  }

  /** Decodes a batch; while the registry cannot be reached it waits and tries again (the records are not to blame). */
  private async decode(raws: readonly RawRecord[], hooks: BatchHooks): Promise<BatchRecord[] | undefined> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await decodeRecords(this.options.codec, raws);
      } catch (err) {
        const delay = backoffMs(attempt, (this.options.retry ?? DEFAULT_RETRY).systemic);
        this.logger.error({ err, attempt, retryInMs: delay }, 'decoding the batch failed; retrying');
        try {
          await sleep(delay, undefined, { signal: hooks.signal });
          await hooks.heartbeat();
        } catch {
          return undefined;
        }
      }
    }
  }
}
