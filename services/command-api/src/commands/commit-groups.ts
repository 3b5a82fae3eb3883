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
export class CommitGroups<T> {
  private pending: T[] = [];
  private running = 0;
  private readonly sizes?: Histogram;

  constructor(private readonly options: CommitGroupsOptions<T>) {
    if (!(options.transactions >= 1 && options.maxBatch >= 1)) {
      throw new RangeError('commit groups need transactions >= 1 and maxBatch >= 1');
    }
    if (options.registry) this.sizes = this.createMetrics(options.registry);
  }

  get queued(): number {
    return this.pending.length;
  }

  get inFlight(): number {
    return this.running;
  }

  submit(item: T): void {
    this.pending.push(item);
    this.pump();
  }

  private pump(): void {
    while (this.running < this.options.transactions && this.pending.length > 0) {
      const batch = this.take();
      this.running++;
      this.sizes?.observe(batch.length);
      void this.options.run(batch).finally(() => {
        this.running--;
        this.pump();
      });
    }
  }

  /** The oldest item and, unless it runs alone, every later one that fits beside it. */
  private take(): T[] {
    const [first, ...rest] = this.pending;
    if (this.options.solo(first!)) {
      this.pending = rest;
      return [first!];
    }
    const batch: T[] = [];
    const used = new Set<string>();
    const left: T[] = [];
    for (const item of this.pending) {
      const keys = this.options.keysOf(item);
      if (batch.length >= this.options.maxBatch || this.options.solo(item) || keys.some((k) => used.has(k))) {
        left.push(item);
        continue;
      }
      for (const k of keys) used.add(k);
      batch.push(item);
    }
    this.pending = left;
    return batch;
  }

  private createMetrics(registry: Registry): Histogram {
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
    return new Histogram({
      name: 'sluice_command_group_size',
      help: 'Commands per transaction (group commit batch size)',
      buckets: [1, 2, 4, 8, 16, 32, 64],
      registers: [registry],
    });
  }
}
