import { TokenBucket } from '@sluice/resilience';

/** One status message for a connection. Final ones (completed, failed, compensated) are never dropped. */
export interface OutboundMessage {
  /** Which withdrawal it is about: a newer message for it replaces an older one still queued. */
  readonly key: string;
  readonly final: boolean;
  readonly payload: string;
}

export type DropReason = 'superseded' | 'overflow';

export interface OutboundQueueOptions {
  /** Messages waiting at most; past it low-priority ones are dropped. */
  capacity: number;
  /** Messages per second this connection is sent at most (a token bucket), and the burst it may have. */
  ratePerSec: number;
  burst: number;
  /** Writes one message; false when the socket's buffer is full (wait for `resume()`). */
  write: (message: OutboundMessage) => boolean;
  /** The queue is full of final states, which it may not drop: the client is too slow and must reconnect (and resume). */
  onSlowConsumer: () => void;
  onDrop?: (reason: DropReason) => void;
  clock?: () => number;
}

/**
 * The outbound side of one push connection: a bounded queue drained no
 * faster than the connection's rate limit and the socket accepts. On
 * overflow, low-priority messages go first: a newer state of the same
 * withdrawal replaces the queued one, then the oldest intermediate state is
 * dropped. A final state is never dropped: when only final states fill the
 * queue, the connection is closed as a slow consumer, and the client's
 * reconnect with Last-Event-ID gets the current state.
 */
export class OutboundQueue {
  private readonly queue: OutboundMessage[] = [];
  private readonly bucket: TokenBucket;
  private readonly clock: () => number;
  private timer: NodeJS.Timeout | undefined;
  private blocked = false;
  private closed = false;

  constructor(private readonly options: OutboundQueueOptions) {
    this.clock = options.clock ?? Date.now;
    this.bucket = new TokenBucket({ ratePerSec: options.ratePerSec, capacity: options.burst }, this.clock());
  }

  get depth(): number {
    return this.queue.length;
  }

  push(message: OutboundMessage): void {
    if (this.closed) return;
    const same = this.queue.findIndex((m) => m.key === message.key && !m.final);
    if (same >= 0) {
      this.queue.splice(same, 1);
      this.options.onDrop?.('superseded');
    }
    if (this.queue.length >= this.options.capacity) {
      const low = this.queue.findIndex((m) => !m.final);
      if (!message.final) {
        this.options.onDrop?.('overflow');
        return;
      }
      if (low < 0) {
        this.close();
        this.options.onSlowConsumer();
        return;
      }
      this.queue.splice(low, 1);
      this.options.onDrop?.('overflow');
    }
    this.queue.push(message);
    this.drain();
  }

  /** The socket can take more (its 'drain' event). */
  resume(): void {
    this.blocked = false;
    this.drain();
  }

  /** True when nothing is waiting: heartbeats go out only then. */
  get idle(): boolean {
    return this.queue.length === 0 && !this.blocked;
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.queue.length = 0;
  }

  private drain(): void {
    if (this.timer || this.closed) return;
    while (this.queue.length > 0 && !this.blocked) {
      const take = this.bucket.take(this.clock());
      if (!take.ok) {
        this.timer = setTimeout(() => {
          this.timer = undefined;
          this.drain();
        }, take.retryAfterMs);
        this.timer.unref();
        return;
      }
      const next = this.queue.shift()!;
      if (!this.options.write(next)) this.blocked = true;
    }
  }
}
