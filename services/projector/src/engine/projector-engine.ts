import { setTimeout as sleep } from 'node:timers/promises';
import type { Kafka } from 'kafkajs';
import {
  KafkaSubscriber,
  type BatchContext,
  type ConsumedMessage,
  type InboundRecord,
  type PartitionControl,
} from '@sluice/messaging';
import type { Logger } from '@sluice/observability';
import { loadPositions } from '../store/checkpoints';
import { BatchPipeline, type BatchPipelineOptions } from './batch-pipeline';
import { backoffMs } from './failures';
import { PartitionProgress } from './progress';
import type { RawRecord } from './records';

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
  /** The broker answers a fetch once this many bytes wait, or maxWaitTimeMs passed. */
  minBytes: number;
  /** After a batch, the next fetch waits until this long after the batch came (FetchSettings.lingerMs). */
  lingerMs: number;
  /** Partitions whose batches run at once; each holds one pooled connection while it commits. */
  partitionsConsumedConcurrently: number;
}

export interface ProjectorEngineOptions extends BatchPipelineOptions {
  kafka: Kafka;
  logger: Logger;
  consumer?: Partial<ConsumerTuning>;
  /** Liveness fails when a partition with records waiting commits nothing for this long. */
  stallTimeoutMs?: number;
  clock?: () => number;
}

const DEFAULT_TUNING: ConsumerTuning = {
  sessionTimeoutMs: 30_000,
  heartbeatIntervalMs: 3_000,
  maxBytesPerPartition: 1_048_576,
  maxBytes: 10_485_760,
  maxWaitTimeMs: 1_000,
  minBytes: 1,
  lingerMs: 0,
  partitionsConsumedConcurrently: 4,
};

/**
 * Consumes one topic in a consumer group and keeps projection versions from
 * it: the Kafka side (group membership, assignment, fetch, offsets) is here,
 * what becomes of a batch is BatchPipeline's. The database checkpoints are
 * the positions that count: on assignment each partition is paused, sought
 * to the lowest stored checkpoint of its versions and resumed; every batch
 * is applied with its checkpoints in one transaction and retried until it
 * commits; Kafka's committed offset is written afterwards only as a hint for
 * tools that read consumer-group lag, and never for a partition no longer
 * owned.
 */
export class ProjectorEngine {
  private readonly progress: PartitionProgress;
  private readonly pipeline: BatchPipeline;
  private readonly tuning: ConsumerTuning;
  private readonly logger: Logger;
  private readonly clock: () => number;
  private subscriber: KafkaSubscriber | undefined;
  private control: PartitionControl | undefined;
  private owned = new Set<number>();
  /** Bumped on every assignment, so a resume still retrying for an older one gives up. */
  private generation = 0;
  private joined = false;
  private joins = 0;
  private abort = new AbortController();
  private projectionNames: string[] = [];

  constructor(private readonly options: ProjectorEngineOptions) {
    this.tuning = { ...DEFAULT_TUNING, ...options.consumer };
    this.clock = options.clock ?? Date.now;
    this.logger = options.logger.child({ component: 'projector', topic: options.topic, mode: options.targets.mode });
    this.progress = new PartitionProgress(options.stallTimeoutMs ?? 120_000, this.clock);
    this.pipeline = new BatchPipeline(options, this.progress, this.logger, this.clock);
  }

  get groupId(): string {
    return this.options.groupId;
  }

  /**
   * Joins the group on the consumer runtime's subscriber (libs/messaging):
   * its assignment hooks pause each assigned partition before its first
   * fetch, and the engine seeks it to its checkpoints; the runtime's own
   * decode, retry and dead-letter middleware do not fit the exactly-once
   * batches here (PartitionApplier, BatchRunner), so the engine keeps its own.
   */
  async start(): Promise<void> {
    if (this.subscriber) throw new Error('projector engine already started');
    const { kafka, topic, groupId } = this.options;
    this.abort = new AbortController();
    this.projectionNames = (await this.options.targets.peek(this.options.pool)).map((t) => t.projection);
    const subscriber = new KafkaSubscriber({
      kafka,
      groupId,
      topics: [topic],
      // Partitions without a stored checkpoint start from the beginning: the read model holds nothing of them yet.
      fromBeginning: true,
      fetch: {
        sessionTimeoutMs: this.tuning.sessionTimeoutMs,
        heartbeatIntervalMs: this.tuning.heartbeatIntervalMs,
        maxBytesPerPartition: this.tuning.maxBytesPerPartition,
        maxBytes: this.tuning.maxBytes,
        maxWaitTimeInMs: this.tuning.maxWaitTimeMs,
        minBytes: this.tuning.minBytes,
        lingerMs: this.tuning.lingerMs,
        partitionsConcurrently: this.tuning.partitionsConsumedConcurrently,
      },
      // Kafka's offsets are only a hint here (the checkpoints are in the database): committed once a second, not per batch.
      commitIntervalMs: 1_000,
      logger: this.logger,
    });
    this.subscriber = subscriber;
    try {
      await subscriber.start((messages, ctx) => this.onBatch(messages, ctx), {
        onAssigned: (assignment, control) => {
          this.control = control;
          this.joined = true;
          this.joins++;
          this.onAssignment([...(assignment.get(topic) ?? [])]);
        },
        // Until the next assignment it is unknown which partitions this member keeps: own none.
        onRevoked: () => this.onAssignment([]),
      });
    } catch (err) {
      this.subscriber = undefined;
      throw err;
    }
    this.logger.info({ groupId }, 'projector consuming');
  }

  /**
   * Stops fetching, lets the batches in flight finish (a transaction commits or
   * rolls back whole; retry waits end at once), then leaves the group.
   */
  async stop(): Promise<void> {
    const subscriber = this.subscriber;
    if (!subscriber) return;
    this.generation++;
    this.abort.abort();
    await subscriber.stop();
    this.owned = new Set();
    this.joined = false;
    this.subscriber = undefined;
    this.control = undefined;
    this.logger.info('projector stopped');
  }

  /** For the liveness probe: a reason when the engine cannot make progress. */
  stalledReason(): string | undefined {
    const crashed = this.subscriber?.crashReason();
    if (crashed !== undefined) return `consumer crashed: ${crashed}`;
    return this.progress.stalled();
  }

  /** For the readiness probe: throws until the consumer has joined its group. */
  assertConsuming(): void {
    const crashed = this.subscriber?.crashReason();
    if (crashed !== undefined) throw new Error(`consumer crashed: ${crashed}`);
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
    this.control?.pause(topic, partitions);
    void this.resumeFromCheckpoints(generation, partitions);
  }

  private async resumeFromCheckpoints(generation: number, partitions: number[]): Promise<void> {
    const { topic, pool } = this.options;
    for (let attempt = 1; generation === this.generation; attempt++) {
      try {
        const targets = await this.options.targets.peek(pool);
        const positions = await Promise.all(targets.map((t) => loadPositions(pool, t, topic)));
        const control = this.control;
        if (generation !== this.generation || !control) return;
        const seeks: Record<number, string> = {};
        for (const partition of partitions) {
          // The lowest checkpoint of the versions this engine writes; a version never seen on the partition starts at 0.
          const lowest = positions.reduce<bigint | undefined>((min, byPartition) => {
            const next = byPartition.get(partition)?.nextOffset ?? 0n;
            return min === undefined || next < min ? next : min;
          }, undefined);
          const offset = lowest ?? 0n;
          seeks[partition] = String(offset);
          control.seek(topic, partition, String(offset));
        }
        control.resume(topic, partitions);
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

  /**
   * One partition's batch, handed to the pipeline. Returning commits Kafka's
   * offset past it (only a hint for lag tools: the database checkpoints
   * count); a batch dropped, abandoned or sought elsewhere is released
   * instead, and fetched again.
   */
  private async onBatch(messages: readonly ConsumedMessage[], ctx: BatchContext): Promise<void> {
    const { partition } = ctx;
    const owned = () => this.owned.has(partition) && ctx.owned();
    // A seek is pending (a resume or rebalance overtook this fetch): the batch is dropped, it is fetched again.
    if (messages.length === 0 || !owned()) return ctx.release();
    const verdict = await this.pipeline.handle(
      partition,
      messages.map((m) => rawOf(m.record)),
      BigInt(ctx.highWatermark),
      { signal: this.abort.signal, stillOwned: owned, heartbeat: () => ctx.heartbeat() },
    );
    if (verdict.kind === 'commit') return;
    if (verdict.kind === 'seek' && owned()) this.control?.seek(this.options.topic, partition, String(verdict.offset));
    return ctx.release();
  }
}

/** The runtime's record as the projector's applier keeps it (offsets as bigint). */
function rawOf(record: InboundRecord): RawRecord {
  return {
    offset: BigInt(record.offset),
    key: record.key,
    value: record.value,
    get headers() {
      return record.headers as Record<string, Buffer[]>;
    },
    timestamp: record.timestamp,
  };
}
