import type { DecodedEvent } from '../avro-codec';

/** A record as it came off a topic; what a dead letter must carry unchanged. */
export interface InboundRecord {
  readonly topic: string;
  readonly partition: number;
  /** Kafka offsets are int64: kept as the decimal string the broker sent. */
  readonly offset: string;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly headers: Readonly<Record<string, readonly Buffer[]>>;
  readonly timestamp: Date | null;
}

/** A record on its way through the middleware: `event` is set once the decode middleware ran. */
export interface ConsumedMessage {
  readonly record: InboundRecord;
  readonly event?: DecodedEvent;
}

export interface OutboundMessage {
  readonly key: Buffer | string | null;
  readonly value: Buffer | string | null;
  readonly headers?: Readonly<Record<string, Buffer | string | readonly (Buffer | string)[]>>;
  /** Set it to keep a key on the partition of its original (a re-driven dead letter); otherwise the key decides. */
  readonly partition?: number;
}

/**
 * Sends records to a topic. Resolves only once every in-sync replica has
 * them (acks=all); a rejection means none or some may have landed, so a
 * caller that retries sends duplicates, never gaps: consumers dedupe.
 * Records of one call keep their order per partition.
 */
export interface Publisher {
  publish(topic: string, messages: readonly OutboundMessage[]): Promise<void>;
}

/** What a handler may do with the batch it was given, beside finishing it. */
export interface BatchContext {
  readonly topic: string;
  readonly partition: number;
  /** The partition's end when the batch was fetched (for lag). */
  readonly highWatermark: string;
  /** Aborted when the subscriber stops or the partition is revoked: waits end at once, nothing new starts. */
  readonly signal: AbortSignal;
  /** Keeps the membership alive during long work; rejects once the group rebalanced. */
  heartbeat(): Promise<void>;
  /** Marks this record and every one before it as done, before the batch ends (a handler that works in chunks). */
  commit(record: InboundRecord): Promise<void>;
  /** False once the partition was revoked or the subscriber is stopping: the next owner handles the rest. */
  owned(): boolean;
  /**
   * Leaves what is not committed of this batch undone although the handler
   * returns: nothing more is committed and it is fetched again (for a handler
   * that sought the partition elsewhere, or stops).
   */
  release(): void;
}

/**
 * Handles the records of one partition, in offset order. Resolving means
 * every record given is done: the subscriber commits past the last one.
 * Throwing means nothing after the last commit() is done: the subscriber
 * retries the rest (with backoff, without end, so nothing is ever skipped),
 * so a handler must tolerate a record twice. Batches of one partition never
 * overlap; batches of different partitions may run at once.
 */
export type Handler<C extends BatchContext = BatchContext> = (messages: readonly ConsumedMessage[], ctx: C) => Promise<void>;

/** A consumer behaviour wrapped around a handler (decode, retry, dead letters, ...). */
export type Middleware<Inner extends BatchContext = BatchContext, Outer extends BatchContext = BatchContext> = (
  next: Handler<Inner>,
) => Handler<Outer>;

/** Pause, resume and seek of assigned partitions, for assignment hooks. */
export interface PartitionControl {
  pause(topic: string, partitions: readonly number[]): void;
  resume(topic: string, partitions: readonly number[]): void;
  /** The partition's next batch starts at `offset`; a batch in flight is dropped uncommitted. */
  seek(topic: string, partition: number, offset: string): void;
}

export interface AssignmentHooks {
  /**
   * The member now owns these partitions; called before their first batch is
   * fetched, so pausing here and seeking later (from a database checkpoint)
   * means no batch is fetched from the group's committed offset.
   */
  onAssigned?(assignment: ReadonlyMap<string, readonly number[]>, control: PartitionControl): void;
  /** A rebalance started: until the next onAssigned this member owns nothing. */
  onRevoked?(): void;
}

/**
 * Consumes topics in a consumer group and hands each partition's records to
 * the handler, in order. start() resolves once consuming has begun; stop()
 * stops fetching, lets batches in flight finish or give up (their waits end
 * at once), commits what finished and leaves the group.
 */
export interface Subscriber {
  start(handler: Handler, hooks?: AssignmentHooks): Promise<void>;
  stop(): Promise<void>;
  /** For readiness: throws until the member joined its group, or after the consumer crashed for good. */
  assertConsuming(): void;
}
