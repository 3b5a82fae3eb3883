import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { AimdLimit, type AimdOptions } from './aimd-limit';
import type { Deadline } from './deadline';
import { deadlineExceeded } from './deadline';
import { ResilienceError } from './errors';

export interface AdmissionOptions {
  /** Names the dependency in errors and metrics: "postgres", "payment-provider". */
  dependency: string;
  limit: AimdOptions;
  /** Callers allowed to wait for a slot; more are refused at once. */
  maxQueueDepth: number;
  /** Longest a caller waits for a slot (its deadline may cut it shorter). */
  maxQueueWaitMs: number;
  /** Which failures mean "the dependency is congested" (timeouts, its own overload answers). */
  isCongestion?: (err: unknown) => boolean;
  clock?: () => number;
  registry?: Registry;
}

interface Waiter {
  resolve: () => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
  enqueuedAt: number;
}

interface Metrics {
  inFlight: Gauge;
  queueDepth: Gauge;
  limit: Gauge;
  rejects: Counter<'dependency' | 'reason'>;
  congestion: Counter<'dependency'>;
  wait: Histogram<'dependency'>;
}

/**
 * The admission metrics of one registry, shared by every controller on it
 * (prom-client registers a name once): each controller's series carry its
 * dependency label, and the gauges read every controller at scrape time.
 */
const registries = new WeakMap<Registry, { metrics: Metrics; controllers: Map<string, AdmissionController> }>();

function metricsFor(registry: Registry, controller: AdmissionController): Metrics {
  let shared = registries.get(registry);
  if (!shared) {
    const controllers = new Map<string, AdmissionController>();
    const gauge = (name: string, help: string, read: (c: AdmissionController) => number) =>
      new Gauge({
        name,
        help,
        labelNames: ['dependency'],
        registers: [registry],
        collect() {
          for (const [dependency, c] of controllers) this.set({ dependency }, read(c));
        },
      });
    shared = {
      controllers,
      metrics: {
        inFlight: gauge('sluice_admission_in_flight', 'Calls running against the dependency', (c) => c.inFlight),
        queueDepth: gauge('sluice_admission_queue_depth', 'Callers waiting for a slot', (c) => c.queueDepth),
        limit: gauge('sluice_admission_limit', 'The current adaptive concurrency limit', (c) => c.limit),
        rejects: new Counter({
          name: 'sluice_admission_rejects_total',
          help: 'Callers refused by admission control, by reason (queue_full, queue_timeout, deadline)',
          labelNames: ['dependency', 'reason'],
          registers: [registry],
        }),
        congestion: new Counter({
          name: 'sluice_admission_congestion_total',
          help: 'Calls that failed with a sign of congestion (timeouts), each shrinking the limit',
          labelNames: ['dependency'],
          registers: [registry],
        }),
        wait: new Histogram({
          name: 'sluice_admission_wait_seconds',
          help: 'Time callers spent in the admission queue',
          labelNames: ['dependency'],
          buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.4],
          registers: [registry],
        }),
      },
    };
    registries.set(registry, shared);
  }
  if (shared.controllers.has(controller.dependency)) {
    throw new Error(`an admission controller for ${controller.dependency} already reports to this registry`);
  }
  shared.controllers.set(controller.dependency, controller);
  return shared.metrics;
}

/**
 * Admission control for one dependency: at most `limit` calls run at once, a
 * bounded FIFO queue holds a few more for a bounded time, and everything
 * beyond is refused at once with `overloaded` and a retry hint computed from
 * how fast the queue drains. The limit adapts (AIMD) to the latency and
 * timeouts the dependency shows. It knows nothing of what it guards: the call
 * is a function.
 */
export class AdmissionController {
  private readonly aimd: AimdLimit;
  private readonly queue: Waiter[] = [];
  private running = 0;
  private readonly clock: () => number;
  private readonly isCongestion: (err: unknown) => boolean;
  private readonly metrics?: Metrics;
  /** Completions per millisecond, exponentially weighted over about a second. */
  private drainRate = 0;
  private lastCompletionAt: number;

  constructor(private readonly options: AdmissionOptions) {
    this.aimd = new AimdLimit(options.limit);
    this.clock = options.clock ?? Date.now;
    this.isCongestion = options.isCongestion ?? (() => false);
    this.lastCompletionAt = this.clock();
    if (options.registry) this.metrics = metricsFor(options.registry, this);
  }

  get dependency(): string {
    return this.options.dependency;
  }

  get limit(): number {
    return this.aimd.limit;
  }
  get inFlight(): number {
    return this.running;
  }
  get queueDepth(): number {
    return this.queue.length;
  }

  /**
   * Runs fn once a slot is free. Refuses with `overloaded` when the queue is
   * full or the wait outlasts maxQueueWaitMs, with `deadline_exceeded` when
   * the caller's deadline ends first.
   */
  async run<T>(fn: () => Promise<T>, deadline?: Deadline): Promise<T> {
    deadline?.check(`before ${this.options.dependency} admission`);
    if (this.running >= this.aimd.limit || this.queue.length > 0) {
      await this.wait(deadline); // resolves with the slot already taken for this caller
    } else {
      this.running++;
    }
    const started = this.clock();
    let dropped = false;
    try {
      return await fn();
    } catch (err) {
      dropped = this.isCongestion(err);
      if (dropped) this.metrics?.congestion.inc({ dependency: this.options.dependency });
      throw err;
    } finally {
      const now = this.clock();
      this.running--;
      this.aimd.sample(now - started, this.running + 1, dropped);
      this.recordCompletion(now);
      this.release();
    }
  }

  /** How long a caller refused now should wait before trying again: the time the queue takes to drain. */
  retryAfterMs(): number {
    const rate = this.drainRate > 0 ? this.drainRate : this.aimd.limit / Math.max(1, this.options.maxQueueWaitMs);
    return Math.max(100, Math.ceil((this.queue.length + 1) / rate));
  }

  private wait(deadline: Deadline | undefined): Promise<void> {
    if (this.queue.length >= this.options.maxQueueDepth) {
      return Promise.reject(this.refuse('queue_full', `the ${this.options.dependency} queue is full`));
    }
    const budget = deadline ? deadline.remainingMs() : Infinity;
    const waitMs = Math.min(this.options.maxQueueWaitMs, budget);
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        resolve,
        reject,
        enqueuedAt: this.clock(),
        timer: setTimeout(() => {
          const i = this.queue.indexOf(waiter);
          if (i >= 0) this.queue.splice(i, 1);
          this.observeWait(waiter);
          reject(
            waitMs < this.options.maxQueueWaitMs
              ? this.refuseDeadline()
              : this.refuse('queue_timeout', `no ${this.options.dependency} slot within ${waitMs} ms`),
          );
        }, waitMs),
      };
      this.queue.push(waiter);
    });
  }

  private release(): void {
    while (this.queue.length > 0 && this.running < this.aimd.limit) {
      const next = this.queue.shift()!;
      clearTimeout(next.timer);
      this.observeWait(next);
      // The slot passes to the waiter now, so a caller arriving before it resumes queues behind it.
      this.running++;
      next.resolve();
    }
  }

  private recordCompletion(now: number): void {
    const gap = Math.max(1, now - this.lastCompletionAt);
    this.lastCompletionAt = now;
    const alpha = Math.min(1, gap / 1_000);
    this.drainRate = this.drainRate === 0 ? 1 / gap : this.drainRate * (1 - alpha) + (1 / gap) * alpha;
  }

  private refuse(reason: 'queue_full' | 'queue_timeout', message: string): ResilienceError {
    this.metrics?.rejects.inc({ dependency: this.options.dependency, reason });
    return new ResilienceError('overloaded', message, this.retryAfterMs(), {
      dependency: this.options.dependency,
      reason,
      limit: this.aimd.limit,
      queueDepth: this.queue.length,
    });
  }

  private refuseDeadline(): ResilienceError {
    this.metrics?.rejects.inc({ dependency: this.options.dependency, reason: 'deadline' });
    return deadlineExceeded(`waiting for a ${this.options.dependency} slot`, this.retryAfterMs());
  }

  private observeWait(waiter: Waiter): void {
    this.metrics?.wait.observe({ dependency: this.options.dependency }, (this.clock() - waiter.enqueuedAt) / 1000);
  }
}
