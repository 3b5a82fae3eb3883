import type { Producer, TopicMessages } from 'kafkajs';
import type { Logger } from '@sluice/observability';
import type { OutboxRecord, OutboxRowMapper } from './outbox-record';
import type { RelayMetrics } from './metrics';
import { decodeFrame, pgTimeToMs } from './pgoutput/decoder';
import type { Lsn } from '@sluice/outbox';
import type { TopicRouter } from './topic-router';

/** A transaction as the relay tracks it: acknowledged once all its records are. */
interface Txn {
  commitTimeMs: number;
  endLsn: Lsn | undefined; // set by its Commit message
  pending: number;
}

interface Pending {
  record: OutboxRecord;
  txn: Txn;
}

export interface PipelineLimits {
  maxRecordsInFlight: number;
  maxBytesInFlight: number;
  maxBatchRecords: number;
}

export interface PipelinePorts {
  producer: Producer;
  router: TopicRouter;
  mapper: OutboxRowMapper;
  /** Tells PostgreSQL how far the relay got; flushed becomes confirmed_flush_lsn. */
  sendStatus(received: Lsn, flushed: Lsn, replyNow: boolean): void;
  pause(): void;
  resume(): void;
}

/**
 * One replication session's flow: WAL frames in, Kafka batches out, and the
 * confirmed position moved to a transaction's end only after Kafka has
 * acknowledged every record of it and of every transaction before it.
 *
 * Batches go out one at a time, so records reach each partition in WAL order
 * without relying on the producer's in-flight ordering. Records are read and
 * batched while the previous batch is in flight; past the in-flight caps the
 * session stops reading the socket (backpressure reaches the walsender).
 */
export class RelayPipeline {
  private readonly queue: Pending[] = [];
  private readonly txns: Txn[] = [];
  private current: Txn | undefined;
  private sending = false;
  private inFlightRecords = 0;
  private inFlightBytes = 0;
  private received: Lsn;
  private confirmed: Lsn;
  private failure: ((err: Error) => void) | undefined;
  private lastStatusAt = 0;

  constructor(
    private readonly ports: PipelinePorts,
    private readonly limits: PipelineLimits,
    private readonly metrics: RelayMetrics,
    private readonly logger: Logger,
    startLsn: Lsn,
  ) {
    this.received = startLsn;
    this.confirmed = startLsn;
  }

  get confirmedLsn(): Lsn {
    return this.confirmed;
  }

  get receivedLsn(): Lsn {
    return this.received;
  }

  /** Called once: an unrecoverable error in the session (the caller reconnects). */
  onFailure(fn: (err: Error) => void): void {
    this.failure = fn;
  }

  onFrame(chunk: Buffer): void {
    const frame = decodeFrame(chunk);
    if (frame.kind === 'keepalive') {
      if (frame.walEnd > this.received) this.received = frame.walEnd;
      // Nothing open or unacknowledged: everything up to walEnd is done, and
      // confirming it lets PostgreSQL recycle WAL while the outbox is quiet.
      if (this.idle() && frame.walEnd > this.confirmed) this.confirmed = frame.walEnd;
      if (frame.replyRequested) this.status(true);
      return;
    }
    if (frame.walEnd > this.received) this.received = frame.walEnd;
    const msg = frame.message;
    switch (msg.tag) {
      case 'begin':
        this.current = { commitTimeMs: pgTimeToMs(msg.commitTime), endLsn: undefined, pending: 0 };
        this.txns.push(this.current);
        break;
      case 'relation':
        this.ports.mapper.onRelation(msg);
        break;
      case 'insert': {
        const record = this.ports.mapper.map(msg);
        if (!record || !this.current) break;
        this.current.pending++;
        this.queue.push({ record, txn: this.current });
        this.inFlightRecords++;
        this.inFlightBytes += record.payload.length;
        this.applyBackpressure();
        this.pump();
        break;
      }
      case 'commit':
        if (this.current) {
          this.current.endLsn = msg.endLsn;
          this.current = undefined;
          this.advance();
        }
        break;
      case 'message':
      case 'other':
        break;
    }
  }

  /** Periodic status so the server knows the relay is alive even when idle. */
  tick(): void {
    this.status(false);
    const oldest = this.txns[0];
    this.metrics.lagSeconds.set(oldest ? Math.max(0, (Date.now() - oldest.commitTimeMs) / 1000) : 0);
  }

  private idle(): boolean {
    return this.current === undefined && this.txns.length === 0 && this.inFlightRecords === 0;
  }

  private applyBackpressure(): void {
    this.metrics.recordsInFlight.set(this.inFlightRecords);
    this.metrics.bytesInFlight.set(this.inFlightBytes);
    const over = this.inFlightRecords >= this.limits.maxRecordsInFlight || this.inFlightBytes >= this.limits.maxBytesInFlight;
    const under =
      this.inFlightRecords <= this.limits.maxRecordsInFlight / 2 && this.inFlightBytes <= this.limits.maxBytesInFlight / 2;
    if (over) {
      this.ports.pause();
      this.metrics.paused.set(1);
    } else if (under) {
      this.ports.resume();
      this.metrics.paused.set(0);
    }
  }

  private pump(): void {
    if (this.sending || this.queue.length === 0) return;
    this.sending = true;
    const batch = this.queue.splice(0, this.limits.maxBatchRecords);
    this.send(batch).then(
      () => {
        this.sending = false;
        this.pump();
      },
      (err: unknown) => this.failure?.(err instanceof Error ? err : new Error(String(err))),
    );
  }

  private async send(batch: Pending[]): Promise<void> {
    const { router, producer } = this.ports;
    await router.prepare(batch.map((p) => router.topicOf(p.record.aggregateType)));
    const byTopic = new Map<string, TopicMessages>();
    let bytes = 0;
    for (const { record } of batch) {
      const topic = router.topicOf(record.aggregateType);
      let entry = byTopic.get(topic);
      if (!entry) byTopic.set(topic, (entry = { topic, messages: [] }));
      bytes += record.payload.length;
      entry.messages.push({
        key: record.aggregateId,
        value: record.payload,
        partition: router.partitionOf(topic, record.aggregateId),
        headers: { id: record.id, type: record.type, ...record.headers },
        ...(record.timestampMs !== undefined && { timestamp: String(record.timestampMs) }),
      });
    }
    const started = process.hrtime.bigint();
    await producer.sendBatch({ topicMessages: [...byTopic.values()], acks: -1 });
    const now = Date.now();
    this.metrics.batchSeconds.observe(Number(process.hrtime.bigint() - started) / 1e9);
    this.metrics.batchSize.observe(batch.length);
    for (const [topic, entry] of byTopic) this.metrics.events.inc({ topic }, entry.messages.length);
    for (const p of batch) {
      p.txn.pending--;
      this.metrics.commitToAck.observe(Math.max(0, now - p.txn.commitTimeMs) / 1000);
    }
    this.inFlightRecords -= batch.length;
    this.inFlightBytes -= bytes;
    this.applyBackpressure();
    this.advance();
  }

  /** Moves the confirmed position over every leading transaction that is committed and fully acknowledged. */
  private advance(): void {
    let moved = false;
    while (this.txns.length > 0) {
      const head = this.txns[0]!;
      if (head.endLsn === undefined || head.pending > 0) break;
      this.confirmed = head.endLsn;
      this.txns.shift();
      moved = true;
    }
    if (moved) this.status(false);
  }

  private status(replyNow: boolean): void {
    this.ports.sendStatus(this.received, this.confirmed, replyNow);
    this.lastStatusAt = Date.now();
    this.metrics.confirmedLsn.set(Number(this.confirmed));
    this.metrics.lagBytes.set(Number(this.received - this.confirmed));
  }

  get lastStatusTime(): number {
    return this.lastStatusAt;
  }
}
