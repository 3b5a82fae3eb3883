import type { Pool } from 'pg';
import { formatLsn, OutboxSlot, SlotError, type SlotState } from '@sluice/outbox';
import type { Logger } from '@sluice/observability';
import { BEFORE_ANY_RECORD, type CheckpointStore, type RelayCheckpoint } from '../checkpoint/checkpoint-store';
import type { RelayMetrics } from '../metrics';
import type { RecordPublisher } from '../publish/publisher';
import type { OutboxSource } from '../source';
import { OutboxPruner } from './outbox-pruner';
import { ReplicationStream } from './replication-stream';
import { OutboxRepublisher } from './republisher';
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
  prune: { intervalMs: number; batch: number };
}

type LossReason = 'missing' | 'invalidated' | 'recreated';

/**
 * Reads the outbox from the WAL through a permanent logical slot (pgoutput,
 * binary), and prunes the outbox rows behind the position it confirmed.
 * Before each session it checks the slot against the relay's own checkpoint:
 * a slot that is gone, invalidated or ahead of the checkpoint (recreated)
 * would stream across a gap, so the relay replaces it and first republishes
 * every row the outbox still holds (docs/relay-failover.md).
 */
export class WalSource implements OutboxSource {
  private readonly slot: OutboxSlot;
  private readonly pruner: OutboxPruner;
  private readonly republisher: OutboxRepublisher;
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
    this.pruner = new OutboxPruner(
      { table: options.table, intervalMs: options.prune.intervalMs, batch: options.prune.batch },
      pool,
      metrics,
      logger,
    );
    this.republisher = new OutboxRepublisher(
      { table: options.table, headerColumns: options.headerColumns, batch: options.limits.maxBatchRecords },
      pool,
      publisher,
      metrics,
    );
  }

  get streaming(): boolean {
    return this.pipeline !== undefined;
  }

  async session(): Promise<void> {
    this.interrupted = false;
    this.pruner.reset();
    const prepared = await this.prepareSlot();
    // Interrupted while checking or recovering the slot (the leader lock lost, say): there is no stream to end yet.
    if (!prepared || this.interrupted) return;
    const { slotState, checkpoint } = prepared;
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
    if (this.pipeline) this.pruner.tick(this.pipeline.checkpointedLsn);
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
   * The slot and the checkpoint to stream from. A healthy slot at or behind the
   * checkpoint streams as it is; on the very first start (no checkpoint) the
   * relay adopts the slot the command side created before its first write. A
   * slot that is missing, invalidated, or ahead of the checkpoint (recreated,
   * or read by another consumer) lost the events committed since the
   * checkpoint: the relay replaces it if need be, then republishes every
   * retained outbox row before the new slot streams, and only then saves a
   * checkpoint for the new slot. A crash in between leaves the old checkpoint,
   * so the next session finds the slot ahead of it and republishes again.
   * Undefined when interrupted on the way.
   */
  private async prepareSlot(): Promise<{ slotState: SlotState; checkpoint: RelayCheckpoint } | undefined> {
    const stored = await this.checkpoints.load();
    let state = await this.slot.ensure({ createSlot: false });
    let reason: LossReason | undefined;
    if (state?.lost) {
      reason = 'invalidated';
      this.logger.warn({ slot: this.options.slot }, 'the replication slot was invalidated (its WAL removed); dropping it');
      await this.slot.drop();
      state = undefined;
    }
    if (!state) {
      reason ??= 'missing';
      state = await this.slot.ensure({ createSlot: true });
      if (!state) {
        throw new SlotError('slot_missing', `replication slot ${this.options.slot} vanished right after it was created`, {
          retriable: true,
        });
      }
    } else if (stored && state.confirmedFlushLsn > stored.confirmedLsn) {
      reason = 'recreated';
    } else if (stored) {
      return { slotState: state, checkpoint: stored };
    }
    // A first start that found a slot: the writers created it before their first write.
    if (!reason) return this.startAt(state);
    // A first start that found no slot is no loss, but the table may hold rows that never reached Kafka.
    const recovering = stored !== undefined || reason === 'invalidated';
    if (recovering) {
      this.metrics.slotRecoveries.inc({ reason });
      this.logger.warn(
        {
          slot: this.options.slot,
          reason,
          checkpoint: stored && formatLsn(stored.confirmedLsn),
          newSlotAt: formatLsn(state.confirmedFlushLsn),
        },
        'the replication slot was lost: events committed since the checkpoint are not in its stream; republishing the retained outbox before streaming',
      );
    }
    const started = Date.now();
    const republished = await this.republisher.republish(() => this.interrupted);
    if (republished === undefined) return undefined;
    if (recovering || republished > 0) {
      this.logger.warn(
        { slot: this.options.slot, reason, republished, ms: Date.now() - started },
        'republished the retained outbox rows; streaming from the new slot',
      );
    }
    return this.startAt(state);
  }

  /** A checkpoint at the slot's start, saved: from now on the slot is the relay's. */
  private async startAt(slotState: SlotState): Promise<{ slotState: SlotState; checkpoint: RelayCheckpoint }> {
    const checkpoint = { ...BEFORE_ANY_RECORD, confirmedLsn: slotState.confirmedFlushLsn };
    await this.checkpoints.save(checkpoint);
    return { slotState, checkpoint };
  }
}

function formatPosition(c: RelayCheckpoint): string {
  return c.idx < 0 ? 'start' : `${formatLsn(c.commitLsn)}#${c.idx}`;
}
