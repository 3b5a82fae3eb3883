import { Gauge, Histogram, type Registry } from 'prom-client';

export interface CommitGroupsOptions<T> {
  /** Batches running at once (each a transaction on its own connection). */
  transactions: number;
  /** Items in one batch, at most. */
  maxBatch: number;
  /** Two items sharing a key never go in one batch (a wallet, an idempotency key). */
  keysOf: (item: T) => readonly string[];
  /** Items that must run in a batch of their own. */
  solo: (item: T) => boolean;
  /** Runs one batch and settles every item in it; must not reject. */
  run: (batch: T[]) => Promise<void>;
  registry?: Registry;
}

/**
 * Group commit: items wait in one FIFO queue, up to `transactions` batches
 * run at once, and each batch takes every waiting item it may (up to
 * `maxBatch`, no two sharing a key). Nothing waits on purpose: when a
 * transaction is free an item starts at once, alone; only items that arrive
 * while every transaction is busy travel together, so batches grow with the
 * load, and the per-transaction costs (round trips, the commit's WAL flush)
 * are paid once per batch instead of once per item.
 */
interface Queued<T> {
  item: T;
  at: number;
}

interface Metrics {
  sizes: Histogram;
  waits: Histogram;
  durations: Histogram;
}

export class CommitGroups<T> {
  private pending: Queued<T>[] = [];
  private running = 0;
  private readonly metrics?: Metrics;

  constructor(private readonly options: CommitGroupsOptions<T>) {
    if (!(options.transactions >= 1 && options.maxBatch >= 1)) {
      throw new RangeError('commit groups need transactions >= 1 and maxBatch >= 1');
    }
    if (options.registry) this.metrics = this.createMetrics(options.registry);
  }

  get queued(): number {
    return this.pending.length;
  }

  get inFlight(): number {
    return this.running;
  }

  submit(item: T): void {
    this.pending.push({ item, at: performance.now() });
    this.pump();
  }

  private pump(): void {
    while (this.running < this.options.transactions && this.pending.length > 0) {
      const batch = this.take();
      const started = performance.now();
      this.running++;
      if (this.metrics) {
        this.metrics.sizes.observe(batch.length);
        for (const { at } of batch) this.metrics.waits.observe((started - at) / 1000);
      }
      void this.options.run(batch.map((q) => q.item)).finally(() => {
        this.running--;
        this.metrics?.durations.observe((performance.now() - started) / 1000);
        this.pump();
      });
    }
  }

  /** The oldest item and, unless it runs alone, every later one that fits beside it. */
  private take(): Queued<T>[] {
    const [first, ...rest] = this.pending;
    if (this.options.solo(first!.item)) {
      this.pending = rest;
      return [first!];
    }
    const batch: Queued<T>[] = [];
    const used = new Set<string>();
    const left: Queued<T>[] = [];
    for (const queued of this.pending) {
      const keys = this.options.keysOf(queued.item);
      if (batch.length >= this.options.maxBatch || this.options.solo(queued.item) || keys.some((k) => used.has(k))) {
        left.push(queued);
        continue;
      }
      for (const k of keys) used.add(k);
      batch.push(queued);
    }
    this.pending = left;
    return batch;
  }

  private createMetrics(registry: Registry): Metrics {
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const self = this;
    new Gauge({
      name: 'sluice_command_group_queue_depth',
      help: 'Commands admitted and waiting for a transaction of their batch',
      registers: [registry],
      collect() {
        this.set(self.pending.length);
      },
    });
    new Gauge({
      name: 'sluice_command_group_transactions',
      help: 'Command batches running (one transaction each)',
      registers: [registry],
      collect() {
        this.set(self.running);
      },
    });
    new Gauge({
      name: 'sluice_command_group_transactions_max',
      help: 'Command batches allowed to run at once',
      registers: [registry],
      collect() {
        this.set(self.options.transactions);
      },
    });
    const seconds = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5];
    return {
      sizes: new Histogram({
        name: 'sluice_command_group_size',
        help: 'Commands per transaction (group commit batch size)',
        buckets: [1, 2, 4, 8, 16, 32, 64],
        registers: [registry],
      }),
      waits: new Histogram({
        name: 'sluice_command_group_wait_seconds',
        help: 'Time a command waited for its batch to start',
        buckets: seconds,
        registers: [registry],
      }),
      durations: new Histogram({
        name: 'sluice_command_group_transaction_seconds',
        help: 'Time a batch took, from its start to every command in it settled',
        buckets: seconds,
        registers: [registry],
      }),
    };
  }
}
