import { setTimeout as sleep } from 'node:timers/promises';
import type { Admin, Producer } from 'kafkajs';
import type { Pool } from 'pg';
import { errorMessage, isRetriable } from '@sluice/core';
import type { Logger } from '@sluice/observability';
import type { RelayMetrics } from './metrics';
import { OutboxRowMapper } from './outbox-record';
import { RelayPipeline, type PipelineLimits } from './pipeline';
import { formatLsn } from '@sluice/outbox';
import { ReplicationStream } from './replication/replication-stream';
import { OutboxSlot, SlotError } from '@sluice/outbox';
import { TopicRouter } from './topic-router';

export interface RelayOptions {
  databaseUrl: string;
  slot: string;
  publication: string;
  table: { schema: string; name: string };
  topicPattern: string;
  headerColumns: string[];
  limits: PipelineLimits;
  statusIntervalMs: number;
  retainedWalWarnBytes: number;
  reconnectBackoff: { initialMs: number; maxMs: number };
}

export type RelayState = 'starting' | 'streaming' | 'waiting' | 'stopped' | 'failed';

/**
 * Streams the outbox from the WAL into Kafka until stopped. Each replication
 * session starts at the slot's confirmed position; on a PostgreSQL or Kafka
 * error the session is dropped and a new one starts after a backoff, so
 * records not yet confirmed are read again (at least once, never lost). A slot
 * that is missing its WAL or is of the wrong kind stops the relay for good.
 */
export class Relay {
  private stream: ReplicationStream | undefined;
  private pipeline: RelayPipeline | undefined;
  private stopping = false;
  private stateValue: RelayState = 'starting';
  private lastProgressAt = Date.now();
  private wake: (() => void) | undefined;
  private readonly slot: OutboxSlot;

  constructor(
    private readonly options: RelayOptions,
    private readonly pool: Pool,
    private readonly producer: Producer,
    private readonly admin: Admin,
    private readonly metrics: RelayMetrics,
    private readonly logger: Logger,
  ) {
    this.slot = new OutboxSlot(pool, options.slot, options.publication, options.table);
    metrics.recordsLimit.set(options.limits.maxRecordsInFlight);
    metrics.bytesLimit.set(options.limits.maxBytesInFlight);
  }

  get state(): RelayState {
    return this.stateValue;
  }

  /** Milliseconds since the session last made progress or was known idle and healthy. */
  get sinceProgressMs(): number {
    return Date.now() - this.lastProgressAt;
  }

  /** Runs sessions until stop(); rejects only on an error retrying cannot fix. */
  async run(): Promise<void> {
    let backoff = this.options.reconnectBackoff.initialMs;
    while (!this.stopping) {
      try {
        await this.session();
        backoff = this.options.reconnectBackoff.initialMs;
      } catch (err) {
        if (this.stopping) break;
        if (err instanceof SlotError && !err.retriable) {
          this.setState('failed');
          throw err;
        }
        const reason = err instanceof SlotError ? err.code : isRetriable(err) ? 'retriable' : 'error';
        this.metrics.reconnects.inc({ reason });
        this.setState('waiting');
        this.logger.warn({ err: errorMessage(err), backoffMs: backoff }, 'replication session ended; reconnecting');
        await this.sleep(backoff * (0.5 + Math.random() / 2));
        backoff = Math.min(backoff * 2, this.options.reconnectBackoff.maxMs);
      }
    }
    this.setState('stopped');
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.wake?.();
    await this.stream?.close();
  }

  private async session(): Promise<void> {
    this.setState('starting');
    const position = await this.slot.ensure();
    const stream = new ReplicationStream({
      url: this.options.databaseUrl,
      slot: this.options.slot,
      publication: this.options.publication,
      applicationName: 'sluice-outbox-relay',
      messages: true,
    });
    const pipeline = new RelayPipeline(
      {
        producer: this.producer,
        router: new TopicRouter(this.admin, this.options.topicPattern),
        mapper: new OutboxRowMapper(this.options.table, this.options.headerColumns),
        sendStatus: (received, flushed, replyNow) => stream.sendStatus(received, flushed, replyNow),
        pause: () => stream.pause(),
        resume: () => stream.resume(),
      },
      this.options.limits,
      this.metrics,
      this.logger,
      position.confirmedFlushLsn,
    );
    this.stream = stream;
    this.pipeline = pipeline;
    let timer: NodeJS.Timeout | undefined;
    try {
      await new Promise<void>((resolve, reject) => {
        const fail = (err: Error) => reject(err);
        pipeline.onFailure(fail);
        stream.on('error', fail);
        stream.on('end', () => (this.stopping ? resolve() : reject(new Error('replication stream ended'))));
        stream.on('frame', (chunk: Buffer) => {
          try {
            pipeline.onFrame(chunk);
            this.lastProgressAt = Date.now();
          } catch (err) {
            fail(err instanceof Error ? err : new Error(String(err)));
          }
        });
        stream.start().then(() => {
          this.setState('streaming');
          this.logger.info({ slot: this.options.slot, from: formatLsn(position.confirmedFlushLsn) }, 'streaming the outbox');
          timer = setInterval(() => this.tick(pipeline), this.options.statusIntervalMs);
        }, fail);
      });
    } finally {
      clearInterval(timer);
      await stream.close();
      this.stream = undefined;
      this.pipeline = undefined;
    }
  }

  private tick(pipeline: RelayPipeline): void {
    pipeline.tick();
    // An idle, connected session is healthy progress too.
    if (this.stateValue === 'streaming') this.lastProgressAt = Date.now();
    void this.slot.retainedWalBytes().then(
      (bytes) => {
        if (bytes === undefined) return;
        this.metrics.retainedWal.set(bytes);
        if (bytes > this.options.retainedWalWarnBytes) {
          this.logger.warn(
            { retainedWalBytes: bytes, threshold: this.options.retainedWalWarnBytes },
            'the relay slot retains a lot of WAL',
          );
        }
      },
      () => undefined,
    );
  }

  private setState(state: RelayState): void {
    this.stateValue = state;
    for (const s of ['starting', 'streaming', 'waiting', 'stopped', 'failed'] as const)
      this.metrics.state.set({ state: s }, s === state ? 1 : 0);
  }

  private async sleep(ms: number): Promise<void> {
    await Promise.race([sleep(ms), new Promise<void>((r) => (this.wake = r))]);
  }
}
