import { Counter, Gauge, type Registry } from 'prom-client';
import { ResilienceError } from './errors';

export interface BulkheadOptions {
  /** Names the dependency in errors and metrics. */
  dependency: string;
  /** Calls running at once, at most. */
  limit: number;
  /** Callers allowed to wait for a slot; more are refused at once. */
  maxQueue: number;
  /** Longest a caller waits for a slot before it is refused. */
  maxQueueWaitMs: number;
  registry?: Registry;
}

interface Waiter {
  resolve: () => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

/**
 * A bulkhead: a fixed concurrency limit on one dependency, so a slow payment
 * provider ties up at most `limit` calls (and their sockets and memory) while
 * the rest of the process keeps working. A bounded FIFO queue holds a few
 * more callers for a bounded time; everyone else is refused at once with
 * `overloaded`. The adaptive AdmissionController is the same shape with a
 * limit that moves; this one stays where the provider's contract puts it.
 */
export class Bulkhead {
  private running = 0;
  private readonly queue: Waiter[] = [];
  private readonly rejects?: Counter<'dependency' | 'reason'>;

  constructor(private readonly options: BulkheadOptions) {
    if (!(options.limit >= 1 && options.maxQueue >= 0)) throw new RangeError('a bulkhead needs limit >= 1 and maxQueue >= 0');
    if (options.registry) this.rejects = this.createMetrics(options.registry);
  }

  get limit(): number {
    return this.options.limit;
  }

  get inFlight(): number {
    return this.running;
  }

  get queued(): number {
    return this.queue.length;
  }

  /** Free slots now: what a caller that schedules its own work may start without queueing. */
  get available(): number {
    return Math.max(0, this.options.limit - this.running - this.queue.length);
  }

  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.running < this.options.limit && this.queue.length === 0) this.running++;
    else await this.wait(); // resolves with the slot already taken for this caller
    try {
      return await fn();
    } finally {
      this.running--;
      const next = this.queue.shift();
      if (next) {
        clearTimeout(next.timer);
        this.running++;
        next.resolve();
      }
    }
  }

  private wait(): Promise<void> {
    if (this.queue.length >= this.options.maxQueue) return Promise.reject(this.refuse('queue_full'));
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        resolve,
        reject,
        timer: setTimeout(() => {
          const i = this.queue.indexOf(waiter);
          if (i >= 0) this.queue.splice(i, 1);
          reject(this.refuse('queue_timeout'));
        }, this.options.maxQueueWaitMs),
      };
      this.queue.push(waiter);
    });
  }

  private refuse(reason: 'queue_full' | 'queue_timeout'): ResilienceError {
    this.rejects?.inc({ dependency: this.options.dependency, reason });
    return new ResilienceError('overloaded', `the ${this.options.dependency} bulkhead is full (${reason})`, 100, {
      dependency: this.options.dependency,
      reason,
      limit: this.options.limit,
    });
  }

  private createMetrics(registry: Registry): Counter<'dependency' | 'reason'> {
    const dependency = this.options.dependency;
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const self = this;
    new Gauge({
      name: 'sluice_bulkhead_in_flight',
      help: 'Calls running against the dependency inside its bulkhead',
      labelNames: ['dependency'],
      registers: [registry],
      collect() {
        this.set({ dependency }, self.running);
      },
    });
    new Gauge({
      name: 'sluice_bulkhead_queue_depth',
      help: 'Callers waiting for a bulkhead slot',
      labelNames: ['dependency'],
      registers: [registry],
      collect() {
        this.set({ dependency }, self.queue.length);
      },
    });
    return new Counter({
      name: 'sluice_bulkhead_rejects_total',
      help: 'Callers the bulkhead refused, by reason (queue_full, queue_timeout)',
      labelNames: ['dependency', 'reason'],
      registers: [registry],
    });
  }
}
