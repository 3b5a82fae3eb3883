import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { Middleware } from './ports';

/**
 * The runtime's metrics, one set per registry (every consumer of a process
 * shares it, told apart by `group`): what flows (messages by outcome,
 * batch sizes and durations), what waits (lag per partition, batches in
 * flight against their limit, assigned partitions), and what went wrong
 * (retries, dead letters).
 */
export class ConsumerMetrics {
  readonly messages: Counter<'group' | 'topic' | 'outcome'>;
  readonly batchSeconds: Histogram<'group' | 'topic'>;
  readonly batchSize: Histogram<'group' | 'topic'>;
  readonly inFlight: Gauge<'group'>;
  readonly concurrencyLimit: Gauge<'group'>;
  readonly lag: Gauge<'group' | 'topic' | 'partition'>;
  readonly assigned: Gauge<'group' | 'topic'>;
  readonly retries: Counter<'group' | 'topic' | 'kind'>;
  readonly deadLetters: Counter<'group' | 'topic' | 'code'>;
  readonly handlerFailures: Counter<'group' | 'topic'>;
  readonly lingerSeconds: Counter<'group'>;

  private static readonly byRegistry = new WeakMap<Registry, ConsumerMetrics>();

  static for(registry: Registry): ConsumerMetrics {
    let metrics = ConsumerMetrics.byRegistry.get(registry);
    if (!metrics) {
      metrics = new ConsumerMetrics(registry);
      ConsumerMetrics.byRegistry.set(registry, metrics);
    }
    return metrics;
  }

  private constructor(registry: Registry) {
    const registers = [registry];
    this.messages = new Counter({
      name: 'sluice_consumer_messages_total',
      help: 'Records through the consumer runtime, by outcome (handled, filtered, duplicate, dead_lettered)',
      labelNames: ['group', 'topic', 'outcome'],
      registers,
    });
    this.batchSeconds = new Histogram({
      name: 'sluice_consumer_batch_seconds',
      help: 'Time a handler took for one batch, retries included',
      labelNames: ['group', 'topic'],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    this.batchSize = new Histogram({
      name: 'sluice_consumer_batch_size',
      help: 'Records per batch handed to a handler',
      labelNames: ['group', 'topic'],
      buckets: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 5000],
      registers,
    });
    this.inFlight = new Gauge({
      name: 'sluice_consumer_batches_in_flight',
      help: 'Batches being handled now (the queue of work inside the process)',
      labelNames: ['group'],
      registers,
    });
    this.concurrencyLimit = new Gauge({
      name: 'sluice_consumer_batches_in_flight_limit',
      help: 'Most batches handled at once (partitions consumed concurrently)',
      labelNames: ['group'],
      registers,
    });
    this.lag = new Gauge({
      name: 'sluice_consumer_lag_records',
      help: "Records between a partition's end and the last one fetched, per assigned partition",
      labelNames: ['group', 'topic', 'partition'],
      registers,
    });
    this.lingerSeconds = new Counter({
      name: 'sluice_consumer_linger_seconds_total',
      help: 'Time the fetch loop was held after a batch so that the next fetch brings more records (KAFKA_FETCH_LINGER_MS)',
      labelNames: ['group'],
      registers,
    });
    this.assigned = new Gauge({
      name: 'sluice_consumer_assigned_partitions',
      help: 'Partitions this member owns',
      labelNames: ['group', 'topic'],
      registers,
    });
    this.retries = new Counter({
      name: 'sluice_consumer_retries_total',
      help: 'Handler retries, by kind (bounded: a passing failure; forever: the infrastructure is down; batch: the subscriber redelivered)',
      labelNames: ['group', 'topic', 'kind'],
      registers,
    });
    this.deadLetters = new Counter({
      name: 'sluice_consumer_dead_letters_total',
      help: 'Records parked on the dead-letter topic, by error code',
      labelNames: ['group', 'topic', 'code'],
      registers,
    });
    this.handlerFailures = new Counter({
      name: 'sluice_consumer_handler_failures_total',
      help: 'Batches whose handler failed after every middleware (the subscriber retries them)',
      labelNames: ['group', 'topic'],
      registers,
    });
  }
}

/** Counts and times each batch, and the batches in flight. */
export function measure(metrics: ConsumerMetrics, group: string): Middleware {
  return (next) => async (messages, ctx) => {
    const labels = { group, topic: ctx.topic };
    metrics.batchSize.observe(labels, messages.length);
    metrics.inFlight.inc({ group });
    const stop = metrics.batchSeconds.startTimer(labels);
    try {
      await next(messages, ctx);
      metrics.messages.inc({ ...labels, outcome: 'handled' }, messages.length);
    } finally {
      stop();
      metrics.inFlight.dec({ group });
    }
  };
}
