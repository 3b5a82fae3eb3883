import { setTimeout as sleep } from 'node:timers/promises';
import { drizzle } from 'drizzle-orm/node-postgres';
import type { Consumer, EachBatchPayload, Kafka } from 'kafkajs';
import type { Pool } from 'pg';
import type { Registry } from 'prom-client';
import { errorMessage } from '@sluice/core';
import type { AvroEventCodec } from '@sluice/messaging';
import type { Logger } from '@sluice/observability';
import { loadCheckpoints, type PartitionKey } from '../checkpoints/checkpoint-store';
import { BatchApplier, type BatchResult } from './batch-applier';
import { BatchReporter } from './batch-report';
import { decodeRecords } from './decode';
import { ProjectorMetrics } from './metrics';
import { PartitionProgress } from './progress';
import type { Projection } from './projection';

export interface ConsumerTuning {
  sessionTimeoutMs: number;
  heartbeatIntervalMs: number;
  maxBytesPerPartition: number;
  /**
   * How long a fetch waits for records. It also bounds the wait after an
   * assignment: while partitions are paused for their seek, kafkajs sleeps
   * this long before fetching again.
   */
  maxWaitTimeMs: number;
  /** Partitions whose batches run at once; each holds one pooled connection while it commits. */
  partitionsConsumedConcurrently: number;
}

export interface ProjectorEngineOptions<E> {
  kafka: Kafka;
  pool: Pool;
  codec: AvroEventCodec;
  projection: Projection<E>;
  topic: string;
  groupId: string;
  logger: Logger;
  registry: Registry;
  consumer?: Partial<ConsumerTuning>;
  /** Liveness fails when a partition with records waiting commits nothing for this long. */
  stallTimeoutMs?: number;
  clock?: () => number;
}

const DEFAULT_TUNING: ConsumerTuning = {
  sessionTimeoutMs: 30_000,
  heartbeatIntervalMs: 3_000,
  maxBytesPerPartition: 1_048_576,
  maxWaitTimeMs: 1_000,
  partitionsConsumedConcurrently: 4,
};

/**
 * Consumes one topic with a consumer group and keeps a projection's read
 * model from it. The database checkpoint is the position that counts: on
 * assignment each partition is paused, sought to its stored checkpoint and
 * resumed; every batch is applied with its checkpoint in one transaction
 * (BatchApplier); Kafka's committed offset is written afterwards only as a
 * hint for tools that read consumer-group lag.
 */
export class ProjectorEngine<E> {
  private readonly metrics: ProjectorMetrics;
  private readonly progress: PartitionProgress;
  private readonly applier: BatchApplier<E>;
  private readonly reporter: BatchReporter;
  private readonly tuning: ConsumerTuning;
  private readonly logger: Logger;
  private readonly clock: () => number;
  private consumer: Consumer | undefined;
  private owned = new Set<number>();
  /** Bumped on every assignment, so a resume still retrying for an older one gives up. */
  private generation = 0;
  private joined = false;
  private crashed: string | undefined;

  constructor(private readonly options: ProjectorEngineOptions<E>) {
    this.tuning = { ...DEFAULT_TUNING, ...options.consumer };
    this.clock = options.clock ?? Date.now;
    this.logger = options.logger.child({ component: 'projector', projection: options.projection.name, topic: options.topic });
    this.metrics = new ProjectorMetrics(options.registry);
    this.progress = new PartitionProgress(options.stallTimeoutMs ?? 120_000, this.clock);
    this.applier = new BatchApplier(options.pool, options.projection);
    const { topic, projection } = options;
    this.reporter = new BatchReporter(topic, projection.name, this.metrics, this.progress, this.logger, this.clock);
  }

  async start(): Promise<void> {
    if (this.consumer) throw new Error('projector engine already started');
    const { kafka, topic, groupId } = this.options;
    const consumer = kafka.consumer({
      groupId,
      sessionTimeout: this.tuning.sessionTimeoutMs,
      heartbeatInterval: this.tuning.heartbeatIntervalMs,
      maxBytesPerPartition: this.tuning.maxBytesPerPartition,
      maxWaitTimeInMs: this.tuning.maxWaitTimeMs,
      allowAutoTopicCreation: false,
    });
    this.consumer = consumer;
    consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
      this.joined = true;
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
        // Resolving is this engine's call: a batch skipped as stale must be fetched again.
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

  /** Leaves the group after the batches in flight finish; their transactions commit or roll back whole. */
  async stop(): Promise<void> {
    const consumer = this.consumer;
    if (!consumer) return;
    this.generation++;
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

  private onAssignment(partitions: number[]): void {
    const { topic } = this.options;
    const generation = ++this.generation;
    for (const p of this.owned) if (!partitions.includes(p)) this.metrics.forgetPartition(topic, p);
    this.owned = new Set(partitions);
    this.progress.assign(partitions);
    const now = this.clock() / 1000;
    for (const p of partitions) this.metrics.lastProgress.set({ topic, partition: String(p) }, now);
    if (partitions.length === 0) return;
    // GROUP_JOIN fires before the first fetch of the new assignment, so pausing
    // here means no batch is fetched from Kafka's offset before the seek.
    this.consumer?.pause([{ topic, partitions }]);
    void this.resumeFromCheckpoints(generation, partitions);
  }

  private async resumeFromCheckpoints(generation: number, partitions: number[]): Promise<void> {
    const { topic, groupId } = this.options;
    for (let attempt = 0; generation === this.generation; attempt++) {
      try {
        const stored = await loadCheckpoints(drizzle(this.options.pool), groupId, topic, partitions);
        const consumer = this.consumer;
        if (generation !== this.generation || !consumer) return;
        // No checkpoint: offset 0, so a lost or new read model is rebuilt even
        // when Kafka holds a committed offset for the group (past retention,
        // the fetch falls back to the earliest offset).
        for (const partition of partitions) consumer.seek({ topic, partition, offset: String(stored.get(partition) ?? 0n) });
        consumer.resume([{ topic, partitions }]);
        this.logger.info(
          { checkpoints: Object.fromEntries([...stored].map(([p, o]) => [p, String(o)])), partitions },
          'resumed from checkpoints',
        );
        return;
      } catch (err) {
        this.logger.warn({ err, attempt }, 'reading checkpoints failed; partitions stay paused and it is retried');
        await sleep(Math.min(5_000, 100 * 2 ** attempt));
      }
    }
  }

  private async onBatch(payload: EachBatchPayload): Promise<void> {
    const { batch } = payload;
    const { topic, partition, messages } = batch;
    const last = messages.at(-1);
    // A seek is pending (a resume or rebalance overtook this fetch): drop the batch unresolved, it is fetched again.
    if (!last || !payload.isRunning() || payload.isStale() || !this.owned.has(partition)) return;
    const started = this.clock();
    const highWatermark = BigInt(batch.highWatermark);
    this.progress.observeLag(partition, highWatermark - BigInt(batch.firstOffset() ?? last.offset));
    const key: PartitionKey = { consumerGroup: this.options.groupId, topic, partition };
    let result: BatchResult;
    try {
      const records = await decodeRecords(this.options.codec, this.options.projection, messages);
      result = await this.applier.apply(key, records);
    } catch (err) {
      this.metrics.batchFailures.inc({ projection: this.options.projection.name });
      this.logger.error({ err, partition, firstOffset: batch.firstOffset() }, 'batch failed; it is fetched and tried again');
      throw err;
    }
    payload.resolveOffset(last.offset);
    this.reporter.report(partition, result, highWatermark, messages.length, started);
    // The checkpoint is committed; Kafka's offset is only a hint, and only for a partition this member still owns.
    if (payload.isRunning() && !payload.isStale() && this.owned.has(partition)) {
      try {
        await payload.commitOffsetsIfNecessary({
          topics: [{ topic, partitions: [{ partition, offset: String(result.nextOffset) }] }],
        });
      } catch (err) {
        this.logger.debug({ err, partition }, 'offset commit hint failed; the database checkpoint stands');
      }
    }
  }
}
