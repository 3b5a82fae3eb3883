import { setTimeout as sleep } from 'node:timers/promises';
import type { Consumer, EachBatchPayload, Kafka } from 'kafkajs';
import type { Pool } from 'pg';
import { errorMessage } from '@sluice/core';
import type { AvroEventCodec } from '@sluice/messaging';
import type { Logger } from '@sluice/observability';
import { loadPositions } from '../store/checkpoints';
import { BatchReporter } from './batch-report';
import { BatchRunner, type RetryPolicy } from './batch-runner';
import type { DeadLetterPublisher } from './dead-letters';
import { backoffMs } from './failures';
import type { ProjectorMetrics } from './metrics';
import { BatchGrouper } from './batch-grouper';
import { PartitionApplier } from './partition-applier';
import { PartitionProgress } from './progress';
import { decodeRecords, rawRecord, type BatchRecord } from './records';
import type { TargetResolver } from './targets';

export interface ConsumerTuning {
  sessionTimeoutMs: number;
  heartbeatIntervalMs: number;
  maxBytesPerPartition: number;
  /** Largest fetch response; kafkajs defaults to 10 MiB. */
  maxBytes: number;
  /**
   * How long a fetch waits for records. It also bounds the wait after an
   * assignment: while partitions are paused for their seek, kafkajs sleeps
   * this long before fetching again.
   */
  maxWaitTimeMs: number;
  /** Partitions whose batches run at once; each holds one pooled connection while it commits. */
  partitionsConsumedConcurrently: number;
}

export const DEFAULT_RETRY: RetryPolicy = {
  maxAttempts: 5,
  record: { baseMs: 100, maxMs: 5_000 },
  systemic: { baseMs: 200, maxMs: 30_000 },
};

export interface ProjectorEngineOptions {
  kafka: Kafka;
  pool: Pool;
  codec: AvroEventCodec;
  /** Which projection versions the batches write: the live ones, or one pinned version (rebuild, replay). */
  targets: TargetResolver;
  topic: string;
  groupId: string;
  logger: Logger;
  metrics: ProjectorMetrics;
  consumer?: Partial<ConsumerTuning>;
  retry?: RetryPolicy;
  /** Live only. */
  deadLetters?: DeadLetterPublisher;
  /** Live only: NOTIFY readers of the keys each batch changed. */
  notify?: boolean;
  synchronousCommit?: boolean;
  /** Batches of fewer records than this, of partitions consumed concurrently, share one transaction (BatchGrouper); 0 = never. */
  groupMaxRecords?: number;
  /** Liveness fails when a partition with records waiting commits nothing for this long. */
  stallTimeoutMs?: number;
  /** Called once when the targets resolve to nothing (a rebuild's version went live or was abandoned). */
  onTargetsGone?: () => void;
  clock?: () => number;
}

const DEFAULT_GROUP_MAX_RECORDS = 256;

const DEFAULT_TUNING: ConsumerTuning = {
  sessionTimeoutMs: 30_000,
  heartbeatIntervalMs: 3_000,
  maxBytesPerPartition: 1_048_576,
  maxBytes: 10_485_760,
  maxWaitTimeMs: 1_000,
  partitionsConsumedConcurrently: 4,
};

/**
 * Consumes one topic in a consumer group and keeps projection versions from
 * it. The database checkpoints are the positions that count: on assignment
 * each partition is paused, sought to the lowest stored checkpoint of its
 * versions and resumed; every batch is applied with its checkpoints in one
 * transaction (PartitionApplier) and retried until it commits (BatchRunner);
 * Kafka's committed offset is written afterwards only as a hint for tools
 * that read consumer-group lag, and never for a partition no longer owned.
 */
export class ProjectorEngine {
  private readonly progress: PartitionProgress;
  private readonly runner: BatchRunner;
  private readonly reporter: BatchReporter;
  private readonly tuning: ConsumerTuning;
  private readonly logger: Logger;
  private readonly clock: () => number;
  private consumer: Consumer | undefined;
  private owned = new Set<number>();
  /** Bumped on every assignment, so a resume still retrying for an older one gives up. */
  private generation = 0;
  private joined = false;
  private joins = 0;
  private crashed: string | undefined;
  private abort = new AbortController();
  private targetsGone = false;
  private projectionNames: string[] = [];

  constructor(private readonly options: ProjectorEngineOptions) {
    this.tuning = { ...DEFAULT_TUNING, ...options.consumer };
    this.clock = options.clock ?? Date.now;
    this.logger = options.logger.child({ component: 'projector', topic: options.topic, mode: options.targets.mode });
    this.progress = new PartitionProgress(options.stallTimeoutMs ?? 120_000, this.clock);
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
  }

  get groupId(): string {
    return this.options.groupId;
  }

  async start(): Promise<void> {
    if (this.consumer) throw new Error('projector engine already started');
    const { kafka, topic, groupId } = this.options;
    this.abort = new AbortController();
    this.projectionNames = (await this.options.targets.peek(this.options.pool)).map((t) => t.projection);
    const consumer = kafka.consumer({
      groupId,
      sessionTimeout: this.tuning.sessionTimeoutMs,
      heartbeatInterval: this.tuning.heartbeatIntervalMs,
      maxBytesPerPartition: this.tuning.maxBytesPerPartition,
      maxBytes: this.tuning.maxBytes,
      maxWaitTimeInMs: this.tuning.maxWaitTimeMs,
      allowAutoTopicCreation: false,
    });
    this.consumer = consumer;
    consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
      this.joined = true;
      this.joins++;
      this.onAssignment(payload.memberAssignment[topic] ?? []);
    });
    // Until the next GROUP_JOIN it is unknown which partitions this member keeps: own none.
    consumer.on(consumer.events.REBALANCING, () => this.onAssignment([]));
    consumer.on(consumer.events.CRASH, ({ payload }) => {
      this.logger.error({ err: payload.error, restart: payload.restart }, 'consumer crashed');
      if (!payload.restart) this.crashed = errorMessage(payload.error);
    });
    try {
      await consumer.connect();
      // Partitions without a stored checkpoint start from the beginning: the read model holds nothing of them yet.
      await consumer.subscribe({ topics: [topic], fromBeginning: true });
      await consumer.run({
        autoCommit: false,
        // Resolving is this engine's call: a batch abandoned or sought away must be fetched again.
        eachBatchAutoResolve: false,
        partitionsConsumedConcurrently: this.tuning.partitionsConsumedConcurrently,
        eachBatch: (payload) => this.onBatch(payload),
      });
    } catch (err) {
      this.consumer = undefined;
      await consumer.disconnect().catch(() => undefined);
      throw err;
    }
    this.logger.info({ groupId }, 'projector consuming');
  }

  /**
   * Stops fetching, lets the batches in flight finish (a transaction commits or
   * rolls back whole; retry waits end at once), then leaves the group.
   */
  async stop(): Promise<void> {
    const consumer = this.consumer;
    if (!consumer) return;
    this.generation++;
    this.abort.abort();
    await consumer.disconnect();
    this.owned = new Set();
    this.joined = false;
    this.consumer = undefined;
    this.logger.info('projector stopped');
  }

  /** For the liveness probe: a reason when the engine cannot make progress. */
  stalledReason(): string | undefined {
    if (this.crashed !== undefined) return `consumer crashed: ${this.crashed}`;
    return this.progress.stalled();
  }

  /** For the readiness probe: throws until the consumer has joined its group. */
  assertConsuming(): void {
    if (this.crashed !== undefined) throw new Error(`consumer crashed: ${this.crashed}`);
    if (!this.joined) throw new Error('consumer has not joined its group');
  }

  ownedPartitions(): number[] {
    return [...this.owned].sort((a, b) => a - b);
  }

  /** How many times this member joined its group (a test that nothing disturbed it). */
  groupJoins(): number {
    return this.joins;
  }

  private onAssignment(partitions: number[]): void {
    const { topic } = this.options;
    const generation = ++this.generation;
    for (const p of this.owned) if (!partitions.includes(p)) this.options.metrics.forgetPartition(topic, p, this.projectionNames);
    this.owned = new Set(partitions);
    this.progress.assign(partitions);
    const now = this.clock() / 1000;
    for (const p of partitions) this.options.metrics.lastProgress.set({ topic, partition: String(p) }, now);
    if (partitions.length === 0) return;
    // GROUP_JOIN fires before the first fetch of the new assignment, so pausing
    // here means no batch is fetched from Kafka's offset before the seek.
    this.consumer?.pause([{ topic, partitions }]);
    void this.resumeFromCheckpoints(generation, partitions);
  }

  private async resumeFromCheckpoints(generation: number, partitions: number[]): Promise<void> {
    const { topic, pool } = this.options;
    for (let attempt = 1; generation === this.generation; attempt++) {
      try {
        const targets = await this.options.targets.peek(pool);
        const positions = await Promise.all(targets.map((t) => loadPositions(pool, t, topic)));
        const consumer = this.consumer;
        if (generation !== this.generation || !consumer) return;
        const seeks: Record<number, string> = {};
        for (const partition of partitions) {
          // The lowest checkpoint of the versions this engine writes; a version never seen on the partition starts at 0.
          const lowest = positions.reduce<bigint | undefined>((min, byPartition) => {
            const next = byPartition.get(partition)?.nextOffset ?? 0n;
            return min === undefined || next < min ? next : min;
          }, undefined);
          const offset = lowest ?? 0n;
          seeks[partition] = String(offset);
          consumer.seek({ topic, partition, offset: String(offset) });
        }
        consumer.resume([{ topic, partitions }]);
        this.logger.info({ partitions, seeks }, 'resumed from checkpoints');
        return;
      } catch (err) {
        const delay = backoffMs(attempt, { baseMs: 100, maxMs: 5_000 });
        this.logger.warn(
          { err, attempt, retryInMs: delay },
          'reading checkpoints failed; partitions stay paused and it is retried',
        );
        await sleep(delay);
      }
    }
  }

  private async onBatch(payload: EachBatchPayload): Promise<void> {
    const { batch } = payload;
    const { topic, partition, messages } = batch;
    const last = messages.at(-1);
    const owned = () => this.owned.has(partition) && payload.isRunning() && !payload.isStale();
    // A seek is pending (a resume or rebalance overtook this fetch): drop the batch unresolved, it is fetched again.
    if (!last || !owned() || this.targetsGone) return;
    const started = this.clock();
    const highWatermark = BigInt(batch.highWatermark);
    this.progress.observeLag(partition, highWatermark - BigInt(batch.firstOffset() ?? last.offset));
    const records = await this.decode(messages.map(rawRecord), payload);
    if (!records) return;
    const result = await this.runner.run(partition, records, highWatermark, {
      signal: this.abort.signal,
      stillOwned: owned,
      heartbeat: () => payload.heartbeat(),
      committed: (outcome) => this.reporter.report(partition, outcome, records.length, started),
    });
    switch (result.kind) {
      case 'abandoned':
        this.logger.info(
          { partition, reason: result.reason, firstOffset: batch.firstOffset() },
          'batch abandoned; it is fetched again',
        );
        return;
      case 'stop':
        if (!this.targetsGone) {
          this.targetsGone = true;
          this.logger.info('nothing left to write for this engine');
          this.options.onTargetsGone?.();
        }
        return;
      case 'committed':
        break;
    }
    const { seekTo } = result.outcome;
    if (seekTo !== undefined) {
      if (owned()) this.consumer?.seek({ topic, partition, offset: String(seekTo) });
      return;
    }
    payload.resolveOffset(last.offset);
    // The checkpoints are committed; Kafka's offset is only a hint, and only for a partition this member still owns.
    if (owned()) {
      try {
        await payload.commitOffsetsIfNecessary({
          topics: [{ topic, partitions: [{ partition, offset: String(BigInt(last.offset) + 1n) }] }],
        });
      } catch (err) {
        this.logger.debug({ err, partition }, 'offset commit hint failed; the database checkpoint stands');
      }
    }
  }

  /** Decodes a batch; while the registry cannot be reached it waits and tries again (the records are not to blame). */
  private async decode(raws: Parameters<typeof decodeRecords>[1], payload: EachBatchPayload): Promise<BatchRecord[] | undefined> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await decodeRecords(this.options.codec, raws);
      } catch (err) {
        const delay = backoffMs(attempt, (this.options.retry ?? DEFAULT_RETRY).systemic);
        this.logger.error({ err, attempt, retryInMs: delay }, 'decoding the batch failed; retrying');
        try {
          await sleep(delay, undefined, { signal: this.abort.signal });
          await payload.heartbeat();
        } catch {
          return undefined;
        }
      }
    }
  }
}
