import { setTimeout as sleep } from 'node:timers/promises';
import type { Consumer, EachBatchPayload, IHeaders, Kafka, KafkaMessage, Message, Producer } from 'kafkajs';
import { errorMessage } from '@sluice/core';
import type { Logger } from '@sluice/observability';
import { fullJitterDelay } from '@sluice/resilience';
import { ArrivalRate } from './arrival-rate';
import type { ConsumerMetrics } from './metrics';
import type {
  AssignmentHooks,
  BatchContext,
  Handler,
  InboundRecord,
  OutboundMessage,
  PartitionControl,
  Publisher,
  Subscriber,
} from './ports';

/** What a consumer fetches and how many partitions it works on at once; per service from its environment. */
export interface FetchSettings {
  /** The broker answers a fetch once it has this many bytes… */
  minBytes: number;
  /** …or this long has passed. Also the pause before the first fetch after partitions were paused for a seek. */
  maxWaitTimeInMs: number;
  maxBytes: number;
  maxBytesPerPartition: number;
  /**
   * Linger when busy: once a batch with records comes in, the fetch loop is
   * held until this long after its arrival (its handling included) before it
   * fetches again, so records arriving meanwhile come in one fuller fetch
   * instead of one fetch, batch and transaction each. Busy means records
   * arrive fast enough that a linger gathers at least LINGER_MIN_RECORDS (the
   * rate over the last 250 ms); below that, and for the first records after a
   * quiet spell, nothing waits, and an idle consumer never does (an empty fetch
   * brings no batch). Each record waits at most this long more. 0: off.
   */
  lingerMs: number;
  /** Partitions whose batches are handled at once. */
  partitionsConcurrently: number;
  sessionTimeoutMs: number;
  heartbeatIntervalMs: number;
}

export const DEFAULT_FETCH: FetchSettings = {
  minBytes: 1,
  maxWaitTimeInMs: 500,
  maxBytes: 10_485_760,
  maxBytesPerPartition: 1_048_576,
  lingerMs: 0,
  partitionsConcurrently: 4,
  sessionTimeoutMs: 30_000,
  heartbeatIntervalMs: 3_000,
};

/**
 * A linger is worth its wait when, at the current arrival rate, at least this many records come
 * during it. At 1 the projector (20 ms) lingers from 50 records a second, the other consumers
 * (50 ms) from 20: below that a record would mostly wait for nothing.
 */
export const LINGER_MIN_RECORDS = 1;

/** The consumer settings every service on the runtime reads from its environment (consumerEnv in @sluice/config). */
export interface ConsumerFetchEnv {
  KAFKA_FETCH_MIN_BYTES: number;
  KAFKA_FETCH_MAX_WAIT_MS: number;
  KAFKA_FETCH_LINGER_MS: number;
  KAFKA_PARTITIONS_CONCURRENTLY: number;
  KAFKA_SESSION_TIMEOUT_MS: number;
  KAFKA_HEARTBEAT_INTERVAL_MS: number;
  KAFKA_COMMIT_INTERVAL_MS: number;
}

/** A subscriber's fetch and commit settings from those variables: spread into KafkaSubscriberOptions. */
export function consumerSettingsFrom(env: ConsumerFetchEnv): { fetch: Partial<FetchSettings>; commitIntervalMs: number } {
  return {
    fetch: {
      minBytes: env.KAFKA_FETCH_MIN_BYTES,
      maxWaitTimeInMs: env.KAFKA_FETCH_MAX_WAIT_MS,
      lingerMs: env.KAFKA_FETCH_LINGER_MS,
      partitionsConcurrently: env.KAFKA_PARTITIONS_CONCURRENTLY,
      sessionTimeoutMs: env.KAFKA_SESSION_TIMEOUT_MS,
      heartbeatIntervalMs: env.KAFKA_HEARTBEAT_INTERVAL_MS,
    },
    commitIntervalMs: env.KAFKA_COMMIT_INTERVAL_MS,
  };
}

export interface KafkaSubscriberOptions {
  kafka: Kafka;
  groupId: string;
  topics: readonly string[];
  /** Where a group without committed offsets starts. */
  fromBeginning: boolean;
  fetch?: Partial<FetchSettings>;
  logger: Logger;
  metrics?: ConsumerMetrics;
  /** Backoff between redeliveries of a batch whose handler failed (full jitter, without end). */
  redelivery?: { baseMs: number; maxMs: number };
  /**
   * Kafka offsets are committed at most this often, all partitions' together (0, the default:
   * after every batch, each its own request). For a consumer whose committed offset is only a
   * hint (the projector keeps its positions in its database) or whose handler is idempotent (an
   * inbox, a key that makes a second insert a no-op), a commit request to the broker per
   * partition batch is a round trip on the batch's path and a write to __consumer_offsets each;
   * after a crash at most this long of records is handled again.
   */
  commitIntervalMs?: number;
}

export function toInboundRecord(topic: string, partition: number, message: KafkaMessage): InboundRecord {
  const ts = Number(message.timestamp);
  let headers: Record<string, Buffer[]> | undefined;
  return {
    topic,
    partition,
    offset: message.offset,
    key: message.key ?? null,
    value: message.value ?? null,
    // Most records never need them: normalised on first use.
    get headers() {
      return (headers ??= normalizeHeaders(message.headers));
    },
    timestamp: Number.isFinite(ts) && ts > 0 ? new Date(ts) : null,
  };
}

export function normalizeHeaders(headers: IHeaders | undefined): Record<string, Buffer[]> {
  const out: Record<string, Buffer[]> = {};
  for (const [name, value] of Object.entries(headers ?? {})) {
    if (value === undefined) continue;
    const values = Array.isArray(value) ? value : [value];
    out[name] = values.map((v) => (Buffer.isBuffer(v) ? v : Buffer.from(String(v), 'utf8')));
  }
  return out;
}

/** The Publisher port over a kafkajs producer (an idempotent one: see createIdempotentProducer). */
export class KafkaPublisher implements Publisher {
  constructor(private readonly producer: Producer) {}

  async publish(topic: string, messages: readonly OutboundMessage[]): Promise<void> {
    if (messages.length === 0) return;
    await this.producer.send({
      topic,
      acks: -1,
      messages: messages.map(
        (m): Message => ({
          key: m.key,
          value: m.value,
          ...(m.partition !== undefined && { partition: m.partition }),
          ...(m.headers && { headers: m.headers as IHeaders }),
        }),
      ),
    });
  }
}

/**
 * The Subscriber port over a kafkajs consumer group. Offsets are committed
 * by hand, only past records the handler finished: a batch whose handler
 * throws is handed over again (the rest of it, after its last commit()) with
 * full-jitter backoff, without end, until it passes, the partition is
 * revoked or the subscriber stops. So a record is never skipped; at worst it
 * is handled twice (after a crash or a rebalance).
 */
export class KafkaSubscriber implements Subscriber {
  private consumer: Consumer | undefined;
  private abort = new AbortController();
  private owned = new Map<string, Set<number>>();
  /** Offsets resolved and not yet committed (commitIntervalMs > 0), by topic and partition. */
  private pendingCommits = new Map<string, { topic: string; partition: number; offset: string }>();
  private commitTimer: NodeJS.Timeout | undefined;
  private lastCommitAt = 0;
  /** Partitions this subscriber has committed an offset of: the first commit of any other is not deferred. */
  private committedOnce = new Set<string>();
  /** When the fetch loop may fetch again: set by the first batch that arrives after the last such time (lingerMs). */
  private lingerUntil = 0;
  private readonly arrivals = new ArrivalRate();
  private joined = false;
  private crashed: string | undefined;
  private readonly fetch: FetchSettings;
  private readonly logger: Logger;

  constructor(private readonly options: KafkaSubscriberOptions) {
    this.fetch = { ...DEFAULT_FETCH, ...options.fetch };
    this.logger = options.logger.child({ component: 'consumer', group: options.groupId });
  }

  get groupId(): string {
    return this.options.groupId;
  }

  async start(handler: Handler, hooks: AssignmentHooks = {}): Promise<void> {
    if (this.consumer) throw new Error(`subscriber ${this.options.groupId} already started`);
    const { kafka, groupId, topics, metrics } = this.options;
    this.abort = new AbortController();
    this.crashed = undefined;
    const consumer = kafka.consumer({
      groupId,
      sessionTimeout: this.fetch.sessionTimeoutMs,
      heartbeatInterval: this.fetch.heartbeatIntervalMs,
      minBytes: this.fetch.minBytes,
      maxBytes: this.fetch.maxBytes,
      maxBytesPerPartition: this.fetch.maxBytesPerPartition,
      maxWaitTimeInMs: this.fetch.maxWaitTimeInMs,
      allowAutoTopicCreation: false,
      // kafkajs restarts a crashed consumer on a timer; one that crashes while stopping must stay stopped,
      // or it rejoins the group after stop() returned.
      retry: { retries: 5, restartOnFailure: async () => !this.abort.signal.aborted },
    });
    this.consumer = consumer;
    metrics?.concurrencyLimit.set({ group: groupId }, this.fetch.partitionsConcurrently);
    const control: PartitionControl = {
      pause: (topic, partitions) => consumer.pause([{ topic, partitions: [...partitions] }]),
      resume: (topic, partitions) => consumer.resume([{ topic, partitions: [...partitions] }]),
      seek: (topic, partition, offset) => consumer.seek({ topic, partition, offset }),
    };
    consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
      this.joined = true;
      this.assign(new Map(Object.entries(payload.memberAssignment)));
      hooks.onAssigned?.(this.assignment(), control);
    });
    // Until the next GROUP_JOIN it is unknown which partitions this member keeps: own none.
    consumer.on(consumer.events.REBALANCING, () => {
      this.assign(new Map());
      hooks.onRevoked?.();
    });
    consumer.on(consumer.events.CRASH, ({ payload }) => {
      this.logger.error({ err: payload.error, restart: payload.restart }, 'consumer crashed');
      if (!payload.restart) this.crashed = errorMessage(payload.error);
    });
    try {
      await consumer.connect();
      await consumer.subscribe({ topics: [...topics], fromBeginning: this.options.fromBeginning });
      await consumer.run({
        autoCommit: false,
        eachBatchAutoResolve: false,
        partitionsConsumedConcurrently: this.fetch.partitionsConcurrently,
        eachBatch: (payload) => this.onBatch(payload, handler),
      });
    } catch (err) {
      this.consumer = undefined;
      await consumer.disconnect().catch(() => undefined);
      throw err;
    }
    this.logger.info({ topics, fetch: this.fetch }, 'consuming');
  }

  /** Stops fetching; batches in flight finish or give up (their waits end at once); then leaves the group. */
  async stop(): Promise<void> {
    const consumer = this.consumer;
    if (!consumer) return;
    clearTimeout(this.commitTimer);
    this.commitTimer = undefined;
    await this.flushCommits();
    this.abort.abort();
    await consumer.disconnect();
    this.assign(new Map());
    this.joined = false;
    this.consumer = undefined;
  }

  /** Why the consumer crashed for good (kafkajs gave up restarting it), if it did. */
  crashReason(): string | undefined {
    return this.crashed;
  }

  assertConsuming(): void {
    if (this.crashed !== undefined) throw new Error(`consumer crashed: ${this.crashed}`);
    if (!this.joined) throw new Error('consumer has not joined its group');
  }

  assignment(): ReadonlyMap<string, readonly number[]> {
    return new Map([...this.owned].map(([t, ps]) => [t, [...ps].sort((a, b) => a - b)]));
  }

  private assign(assignment: ReadonlyMap<string, readonly number[]>): void {
    const { metrics, groupId: group } = this.options;
    for (const [topic, partitions] of this.owned) {
      const keep = assignment.get(topic) ?? [];
      for (const p of partitions) if (!keep.includes(p)) metrics?.lag.remove({ group, topic, partition: String(p) });
    }
    this.owned = new Map([...assignment].map(([t, ps]) => [t, new Set(ps)]));
    for (const topic of this.options.topics) metrics?.assigned.set({ group, topic }, assignment.get(topic)?.length ?? 0);
  }

  /** Commits the pending offsets of partitions still owned, in one request; a failed commit leaves them pending. */
  private async flushCommits(): Promise<void> {
    clearTimeout(this.commitTimer);
    this.commitTimer = undefined;
    const consumer = this.consumer;
    const pending = [...this.pendingCommits.entries()].filter(([, c]) => this.owned.get(c.topic)?.has(c.partition) === true);
    this.pendingCommits.clear();
    if (!consumer || pending.length === 0) return;
    this.lastCommitAt = Date.now();
    try {
      await consumer.commitOffsets(pending.map(([, c]) => c));
    } catch (err) {
      this.logger.warn({ err, partitions: pending.length }, 'committing offsets failed; they are tried again with the next');
      for (const [key, c] of pending) if (!this.pendingCommits.has(key)) this.pendingCommits.set(key, c);
    }
  }

  /** Holds the fetch loop until lingerUntil (the batches of one fetch share it); ends at once on stop. */
  private async linger(signal: AbortSignal): Promise<void> {
    const waitMs = this.lingerUntil - Date.now();
    if (waitMs <= 0) return;
    await sleep(waitMs, undefined, { signal }).catch(() => undefined);
    this.options.metrics?.lingerSeconds.inc({ group: this.options.groupId }, waitMs / 1000);
  }

  private async onBatch(payload: EachBatchPayload, handler: Handler): Promise<void> {
    const { batch } = payload;
    const { topic, partition } = batch;
    const signal = this.abort.signal;
    const owned = () =>
      !signal.aborted && payload.isRunning() && !payload.isStale() && this.owned.get(topic)?.has(partition) === true;
    if (batch.messages.length === 0 || !owned()) return;
    const arrived = Date.now();
    this.arrivals.note(arrived, batch.messages.length);
    if (arrived >= this.lingerUntil) {
      const gathers = (this.arrivals.value * this.fetch.lingerMs) / 1_000;
      this.lingerUntil = arrived + (gathers >= LINGER_MIN_RECORDS ? this.fetch.lingerMs : 0);
    }
    const group = this.options.groupId;
    const metrics = this.options.metrics;
    const last = batch.messages.at(-1)!;
    metrics?.lag.set(
      { group, topic, partition: String(partition) },
      Math.max(0, Number(batch.highWatermark) - Number(last.offset) - 1),
    );
    let records = batch.messages.map((m) => toInboundRecord(topic, partition, m));
    const commit = async (record: InboundRecord): Promise<void> => {
      records = records.filter((r) => BigInt(r.offset) > BigInt(record.offset));
      // A revoked partition, or one sought elsewhere: its next owner (or the seek) decides where it goes on.
      if (!owned()) return;
      payload.resolveOffset(record.offset);
      const offset = String(BigInt(record.offset) + 1n);
      const interval = this.options.commitIntervalMs ?? 0;
      if (interval <= 0) {
        await payload.commitOffsetsIfNecessary({ topics: [{ topic, partitions: [{ partition, offset }] }] });
        return;
      }
      const key = `${topic}:${partition}`;
      this.pendingCommits.set(key, { topic, partition, offset });
      const wait = this.lastCommitAt + interval - Date.now();
      // A partition the group has no offset of yet (a new topic, a group that starts at the end) is
      // committed at once: a crash before a deferred first commit would restart it from its reset
      // position, and with fromBeginning false that skips what was handled and what came after.
      const first = !this.committedOnce.has(key);
      this.committedOnce.add(key);
      if (wait <= 0 || first) await this.flushCommits();
      else this.commitTimer ??= setTimeout(() => void this.flushCommits(), wait);
    };
    let released = false;
    const ctx: BatchContext = {
      topic,
      partition,
      highWatermark: batch.highWatermark,
      signal,
      heartbeat: () => payload.heartbeat(),
      commit,
      owned,
      release: () => void (released = true),
    };
    const backoff = this.options.redelivery ?? { baseMs: 200, maxMs: 30_000 };
    for (let attempt = 1; records.length > 0; attempt++) {
      try {
        await handler(
          records.map((record) => ({ record })),
          ctx,
        );
        if (!released) await commit(records.at(-1)!);
        await this.linger(signal);
        return;
      } catch (err) {
        if (!owned()) return; // the batch is fetched again by whoever owns the partition next
        metrics?.handlerFailures.inc({ group, topic });
        const delayMs = fullJitterDelay(Math.min(attempt, 30), backoff.baseMs, backoff.maxMs);
        this.logger.error(
          { err, topic, partition, offset: records[0]?.offset, attempt, retryInMs: delayMs },
          'handler failed; the batch is handed over again',
        );
        try {
          await sleep(delayMs, undefined, { signal });
          await payload.heartbeat();
        } catch {
          return;
        }
      }
    }
  }
}
