import type { Pool } from 'pg';
import { formatLsn, OutboxSlot, SlotError, type SlotState } from '@sluice/outbox';
import type { Logger } from '@sluice/observability';
import { BEFORE_ANY_RECORD, type CheckpointStore, type RelayCheckpoint } from '../checkpoint/checkpoint-store';
import type { RelayMetrics } from '../metrics';
import type { RecordPublisher } from '../publish/publisher';
import type { OutboxSource } from '../source';
import { ReplicationStream } from './replication-stream';
import { OutboxRowMapper } from './row-mapper';
import { WalPipeline, type PipelineLimits } from './wal-pipeline';

export interface WalSourceOptions {
  databaseUrl: string;
  slot: string;
  publication: string;
  table: { schema: string; name: string };
  headerColumns: string[];
  limits: PipelineLimits;
  retainedWalWarnBytes: number;
  /** 0 disables it. */
  heartbeatIntervalMs: number;
}

/**
 * Reads the outbox from the WAL through a permanent logical slot (pgoutput,
 * binary). Before each session it checks the slot against the relay's own
 * checkpoint, and refuses to stream across a gap.
 */
export class WalSource implements OutboxSource {
  private readonly slot: OutboxSlot;
  private stream: ReplicationStream | undefined;
  private pipeline: WalPipeline | undefined;
  private lastHeartbeatAt = 0;
  private retainedWarned = false;
  private interrupted = false;

  constructor(
    private readonly options: WalSourceOptions,
    private readonly pool: Pool,
    private readonly checkpoints: CheckpointStore,
    private readonly publisher: RecordPublisher,
    private readonly metrics: RelayMetrics,
    private readonly logger: Logger,
  ) {
    this.slot = new OutboxSlot(pool, options.slot, options.publication, options.table);
  }

  get streaming(): boolean {
    return this.pipeline !== undefined;
  }

  async session(): Promise<void> {
    this.interrupted = false;
    const { slotState, checkpoint } = await this.checkSlot();
    // Interrupted while checking the slot (the leader lock lost, say): there is no stream to end yet.
    if (this.interrupted) return;
    const stream = new ReplicationStream({
      url: this.options.databaseUrl,
      slot: this.options.slot,
      publication: this.options.publication,
      applicationName: 'sluice-outbox-relay',
      messages: true,
    });
    const pipeline = new WalPipeline(
      {
        mapper: new OutboxRowMapper(this.options.table, this.options.headerColumns),
        publish: (records) => this.publisher.publish(records),
        saveCheckpoint: (c) => this.checkpoints.save(c),
        sendStatus: (received, flushed, replyNow) => stream.sendStatus(received, flushed, replyNow),
        pause: () => stream.pause(),
        resume: () => stream.resume(),
      },
      this.options.limits,
      this.metrics,
      { confirmedLsn: slotState.confirmedFlushLsn, resumeAfter: checkpoint },
    );
    this.stream = stream;
    try {
      await new Promise<void>((resolve, reject) => {
        const fail = (err: Error) => reject(err);
        pipeline.onFailure(fail);
        stream.on('error', fail);
        stream.on('end', () => (this.stream === stream ? reject(new Error('replication stream ended')) : resolve()));
        stream.on('interrupted', resolve);
        stream.on('frame', (chunk: Buffer) => {
          try {
            pipeline.onFrame(chunk);
          } catch (err) {
            fail(err instanceof Error ? err : new Error(String(err)));
          }
        });
        stream.start().then(() => {
          this.pipeline = pipeline;
          this.logger.info(
            { slot: this.options.slot, from: formatLsn(slotState.confirmedFlushLsn), resumeAfter: formatPosition(checkpoint) },
            'streaming the outbox from the WAL',
          );
        }, fail);
      });
    } finally {
      this.pipeline = undefined;
      this.stream = undefined;
      await stream.close();
      await pipeline.stop(5_000);
      if (pipeline.skippedRecords > 0) {
        this.logger.info({ skipped: pipeline.skippedRecords }, 'skipped records Kafka already had (after a restart)');
      }
    }
  }

  async interrupt(): Promise<void> {
    this.interrupted = true;
    const stream = this.stream;
    this.stream = undefined;
    if (stream) {
      stream.emit('interrupted');
      await stream.close();
    }
  }

  tick(): void {
    this.pipeline?.tick();
    void this.heartbeat();
    void this.slot.retainedWalBytes().then(
      (bytes) => {
        if (bytes === undefined) return;
        this.metrics.retainedWal.set(bytes);
        const over = bytes > this.options.retainedWalWarnBytes;
        if (over && !this.retainedWarned) {
          this.logger.warn(
            { retainedWalBytes: bytes, threshold: this.options.retainedWalWarnBytes },
            'the relay slot retains a lot of WAL',
          );
        }
        this.retainedWarned = over;
      },
      () => undefined,
    );
  }

  /**
   * A write that only the relay's database sees, so a quiet outbox in a busy
   * cluster still gets WAL to confirm and the slot does not pin old segments.
   */
  private async heartbeat(): Promise<void> {
    const every = this.options.heartbeatIntervalMs;
    if (every <= 0 || Date.now() - this.lastHeartbeatAt < every) return;
    this.lastHeartbeatAt = Date.now();
    await this.pool.query(`SELECT pg_logical_emit_message(false, 'sluice.relay.heartbeat', now()::text)`).then(
      () => this.metrics.heartbeats.inc(),
      (err: unknown) => this.logger.warn({ err: String(err) }, 'heartbeat failed'),
    );
  }

  /**
   * The slot must exist and must not be ahead of the relay's checkpoint: the
   * relay writes its checkpoint before confirming a position, so a slot ahead
   * of it was recreated (or read by someone else), and events in between may
   * never have reached Kafka. On the very first start the relay adopts the
   * slot (the command side creates it before its first write).
   */
  private async checkSlot(): Promise<{ slotState: SlotState; checkpoint: RelayCheckpoint }> {
    const stored = await this.checkpoints.load();
    const slotState = await this.slot.ensure({ createSlot: stored === undefined });
    const slot = this.options.slot;
    const forget = `DELETE FROM relay_checkpoints WHERE slot_name = '${slot}'`;
    if (!slotState) {
      throw new SlotError(
        'slot_missing',
        `replication slot ${slot} is gone, but the relay has a checkpoint at ${formatLsn(stored!.confirmedLsn)}: ` +
          `events committed since may be missing from Kafka. Reconcile them, then let the relay start afresh with: ${forget}`,
      );
    }
    if (stored && slotState.confirmedFlushLsn > stored.confirmedLsn) {
      throw new SlotError(
        'slot_recreated',
        `replication slot ${slot} is at ${formatLsn(slotState.confirmedFlushLsn)}, ahead of the relay's checkpoint ${formatLsn(stored.confirmedLsn)}: ` +
          `it was recreated or read by another consumer, and events in between may be missing from Kafka. Reconcile them, then run: ${forget}`,
      );
    }
    if (!stored) {
      const first = { ...BEFORE_ANY_RECORD, confirmedLsn: slotState.confirmedFlushLsn };
      await this.checkpoints.save(first);
      return { slotState, checkpoint: first };
    }
    return { slotState, checkpoint: stored };
  }
}

function formatPosition(c: RelayCheckpoint): string {
  return c.idx < 0 ? 'start' : `${formatLsn(c.commitLsn)}#${c.idx}`;
}
