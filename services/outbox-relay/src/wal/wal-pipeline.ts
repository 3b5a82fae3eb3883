import type { Lsn } from '@sluice/outbox';
import type { RelayCheckpoint, RecordPosition } from '../checkpoint/checkpoint-store';
import { atOrBefore } from '../checkpoint/checkpoint-store';
import type { RelayMetrics } from '../metrics';
import type { OutboxRecord } from '../publish/outbox-record';
import { decodeFrame, pgTimeToMs } from './pgoutput/decoder';
import type { OutboxRowMapper } from './row-mapper';

/** A transaction as the relay tracks it: confirmable once all its records are acknowledged. */
interface Txn {
  /** LSN of the commit record (Begin's final LSN): with the index, a record's identity. */
  commitLsn: Lsn;
  commitTimeMs: number;
  endLsn: Lsn | undefined; // set by its Commit message
  pending: number;
  nextIdx: number;
}

interface Pending {
  record: OutboxRecord;
  txn: Txn;
  position: RecordPosition;
}

export interface PipelineLimits {
  maxRecordsInFlight: number;
  maxBytesInFlight: number;
  maxBatchRecords: number;
}

export interface PipelinePorts {
  mapper: OutboxRowMapper;
  /** Resolves once Kafka acknowledged every record of the batch. */
  publish(records: readonly OutboxRecord[]): Promise<void>;
  saveCheckpoint(checkpoint: RelayCheckpoint): Promise<void>;
  /** Tells PostgreSQL how far the relay got; flushed becomes confirmed_flush_lsn. */
  sendStatus(received: Lsn, flushed: Lsn, replyNow: boolean): void;
  pause(): void;
  resume(): void;
}

/**
 * One replication session's flow: WAL frames in, Kafka batches out.
 *
 * - Batches go out one at a time, so records reach each partition in WAL order
 *   without relying on the producer's in-flight ordering. Records are read and
 *   batched while the previous batch is in flight.
 * - Once a batch's worth of records (maxBatchRecords) is acknowledged since
 *   the last save, on every status tick and on stop, the relay saves its
 *   checkpoint (the last acknowledged record's commit LSN and index, and the
 *   confirmable position), then confirms to PostgreSQL the end of every
 *   leading transaction whose records were all acknowledged. The checkpoint is
 *   written first, so the slot is never ahead of it; on restart, records at or
 *   before it are skipped, so a crash repeats at most the batch in flight and
 *   fewer than maxBatchRecords acknowledged after the last save. Saving per
 *   batch instead cost a transaction (and its WAL, which the walsender decodes
 *   too) for every few events at moderate rates.
 * - Past the in-flight caps the session stops reading the socket: the
 *   walsender blocks and PostgreSQL keeps the WAL, memory stays bounded.
 */
export class WalPipeline {
  private readonly queue: Pending[] = [];
  private readonly txns: Txn[] = [];
  private current: Txn | undefined;
  private sending = false;
  private inFlightRecords = 0;
  private inFlightBytes = 0;
  private received: Lsn;
  private confirmed: Lsn;
  private lastAcked: RecordPosition;
  /** Records acknowledged in this session, and how many of them the saved checkpoint covers. */
  private acked = 0;
  private savedAcked = 0;
  private saved: { position: RecordPosition; confirmed: Lsn };
  private reporting: Promise<void> = Promise.resolve();
  private failure: ((err: Error) => void) | undefined;
  private skipped = 0;
  private stopped = false;
  private pumpScheduled = false;
  private inFlight: Promise<void> = Promise.resolve();

  constructor(
    private readonly ports: PipelinePorts,
    private readonly limits: PipelineLimits,
    private readonly metrics: RelayMetrics,
    start: { confirmedLsn: Lsn; resumeAfter: RecordPosition },
  ) {
    this.received = start.confirmedLsn;
    this.confirmed = start.confirmedLsn;
    this.lastAcked = start.resumeAfter;
    this.saved = { position: start.resumeAfter, confirmed: start.confirmedLsn };
  }

  get confirmedLsn(): Lsn {
    return this.confirmed;
  }

  /** The confirmed position the saved checkpoint holds: everything committed before it is in Kafka. */
  get checkpointedLsn(): Lsn {
    return this.saved.confirmed;
  }

  /** Records the checkpoint showed Kafka already had (re-read after a restart). */
  get skippedRecords(): number {
    return this.skipped;
  }

  /** Called once: an unrecoverable error in the session (the caller reconnects). */
  onFailure(fn: (err: Error) => void): void {
    this.failure = fn;
  }

  onFrame(chunk: Buffer): void {
    const frame = decodeFrame(chunk);
    if (frame.kind === 'keepalive') {
      if (frame.walEnd > this.received) this.received = frame.walEnd;
      // A keepalive carries what the walsender has sent so far: with nothing open
      // or unacknowledged, everything up to it is done, and confirming it lets
      // PostgreSQL recycle WAL while the outbox is quiet.
      if (this.idle() && frame.walEnd > this.confirmed) this.confirmed = frame.walEnd;
      // Answered at once when asked, with what is saved; the periodic tick saves and confirms the
      // rest. Saving here would never stop: the checkpoint's own write moves the WAL on, and
      // PostgreSQL reports that in its next keepalive (it skips the empty transaction but says
      // how far it got).
      if (frame.replyRequested) void this.report(true, false);
      return;
    }
    if (frame.walEnd > this.received) this.received = frame.walEnd;
    const msg = frame.message;
    switch (msg.tag) {
      case 'begin':
        this.current = {
          commitLsn: msg.finalLsn,
          commitTimeMs: pgTimeToMs(msg.commitTime),
          endLsn: undefined,
          pending: 0,
          nextIdx: 0,
        };
        this.txns.push(this.current);
        break;
      case 'relation':
        this.ports.mapper.onRelation(msg);
        break;
      case 'insert': {
        const txn = this.current;
        if (!txn) break;
        const record = this.ports.mapper.map(msg, txn.commitTimeMs);
        if (!record) break;
        const position = { commitLsn: txn.commitLsn, idx: txn.nextIdx++ };
        if (atOrBefore(position, this.saved.position)) {
          this.skipped++;
          this.metrics.skipped.inc();
          break;
        }
        txn.pending++;
        this.queue.push({ record, txn, position });
        this.inFlightRecords++;
        this.inFlightBytes += record.payload.length;
        this.applyBackpressure();
        this.schedulePump();
        break;
      }
      case 'commit':
        if (this.current) {
          this.current.endLsn = msg.endLsn;
          this.current = undefined;
          this.advance(); // confirmed and saved with the next save
        }
        break;
      case 'message':
      case 'other':
        break;
    }
  }

  /** Periodic status, so the server knows the relay is alive even when idle. */
  tick(): void {
    // When idle, ask for a keepalive: its position lets the slot advance past WAL
    // that carried nothing for the outbox.
    void this.report(this.idle());
    const oldest = this.txns[0];
    this.metrics.lagSeconds.set(oldest ? Math.max(0, (Date.now() - oldest.commitTimeMs) / 1000) : 0);
  }

  private idle(): boolean {
    return this.current === undefined && this.txns.length === 0 && this.inFlightRecords === 0;
  }

  private applyBackpressure(): void {
    this.metrics.recordsInFlight.set(this.inFlightRecords);
    this.metrics.bytesInFlight.set(this.inFlightBytes);
    const { maxRecordsInFlight, maxBytesInFlight } = this.limits;
    if (this.inFlightRecords >= maxRecordsInFlight || this.inFlightBytes >= maxBytesInFlight) {
      this.ports.pause();
      this.metrics.paused.set(1);
    } else if (this.inFlightRecords <= maxRecordsInFlight / 2 && this.inFlightBytes <= maxBytesInFlight / 2) {
      this.ports.resume();
      this.metrics.paused.set(0);
    }
  }

  /**
   * Sends once the frames of the current socket read are all queued, so one
   * read's records (typically whole transactions) go out in one batch rather
   * than the first record alone.
   */
  private schedulePump(): void {
    if (this.pumpScheduled) return;
    this.pumpScheduled = true;
    setImmediate(() => {
      this.pumpScheduled = false;
      this.pump();
    });
  }

  private pump(): void {
    if (this.stopped || this.sending || this.queue.length === 0) return;
    this.sending = true;
    const batch = this.queue.splice(0, this.limits.maxBatchRecords);
    this.inFlight = this.send(batch).then(
      () => {
        this.sending = false;
        this.pump();
      },
      (err: unknown) => this.fail(err),
    );
  }

  /**
   * Ends the session's flow: no new batch starts, and the batch Kafka is
   * acknowledging finishes and is checkpointed (waiting at most graceMs), so
   * the next session does not send it again.
   */
  async stop(graceMs: number): Promise<void> {
    this.stopped = true;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.inFlight.then(() => this.report(false)).catch(() => undefined),
      new Promise<void>((r) => (timer = setTimeout(r, graceMs))),
    ]);
    clearTimeout(timer);
  }

  private async send(batch: Pending[]): Promise<void> {
    await this.ports.publish(batch.map((p) => p.record));
    let bytes = 0;
    for (const p of batch) {
      p.txn.pending--;
      bytes += p.record.payload.length;
    }
    this.lastAcked = batch[batch.length - 1]!.position;
    this.acked += batch.length;
    this.inFlightRecords -= batch.length;
    this.inFlightBytes -= bytes;
    this.applyBackpressure();
    this.advance();
    // The next batch waits for this save: what a crash repeats stays under two batches.
    if (this.acked - this.savedAcked >= this.limits.maxBatchRecords) await this.report(false);
  }

  /** Moves the confirmable position over every leading transaction that is committed and fully acknowledged. */
  private advance(): boolean {
    let moved = false;
    while (this.txns.length > 0) {
      const head = this.txns[0]!;
      if (head.endLsn === undefined || head.pending > 0) break;
      this.confirmed = head.endLsn;
      this.txns.shift();
      moved = true;
    }
    return moved;
  }

  /**
   * Saves the checkpoint if it moved (unless `save` is false), then confirms
   * the saved position to PostgreSQL; one report at a time, in order.
   */
  private report(replyNow: boolean, save = true): Promise<void> {
    this.reporting = this.reporting.then(async () => {
      const position = this.lastAcked;
      const confirmed = this.confirmed;
      const acked = this.acked;
      if (save && (position !== this.saved.position || confirmed !== this.saved.confirmed)) {
        await this.ports.saveCheckpoint({ ...position, confirmedLsn: confirmed });
        this.metrics.checkpointSaves.inc();
        this.saved = { position, confirmed };
        this.savedAcked = acked;
      }
      this.ports.sendStatus(this.received, this.saved.confirmed, replyNow);
      this.metrics.confirmedLsn.set(Number(this.saved.confirmed));
      this.metrics.lagBytes.set(Number(this.received - this.saved.confirmed));
    });
    this.reporting.catch((err: unknown) => this.fail(err));
    return this.reporting;
  }

  private fail(err: unknown): void {
    this.failure?.(err instanceof Error ? err : new Error(String(err)));
  }
}
