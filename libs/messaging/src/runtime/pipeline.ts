import type { Tracer } from '@sluice/observability';
import type { AvroEventCodec } from '../avro-codec';
import { batch } from './batch';
import { deadLetter } from './dead-letter';
import { decode } from './decode';
import { filterByType } from './filter-by-type';
import { measure, type ConsumerMetrics } from './metrics';
import type { AssignmentHooks, Handler, InboundRecord, Middleware, Publisher, Subscriber } from './ports';
import { defaultRetryClass, retry, type RetryClass } from './retry';
import { traced } from './trace';

export interface ConsumerPipelineOptions {
  group: string;
  metrics: ConsumerMetrics;
  /** Event types the handler uses: others are dropped by their `type` header before decoding. */
  types?: Iterable<string>;
  /** Decodes Avro values into `event`; without it the handler gets raw records. */
  codec?: Pick<AvroEventCodec, 'decode'>;
  retry: { maxAttempts: number; baseMs: number; maxMs: number; classify?: (err: unknown) => RetryClass };
  deadLetters: { publisher: Publisher; topic: string };
  /** Most records per handler call (each chunk committed when done). */
  maxBatch?: number;
  onParked?: (record: InboundRecord, code: string, reason: string) => void;
  onRetry?: (err: unknown, attempt: number, delayMs: number) => void;
  /** A consumer span per record of a recorded trace (see traced); unset, none. */
  tracer?: Tracer;
}

/** Applies middleware outermost first: compose(a, b)(h) is a(b(h)). */
export function compose(...middleware: Middleware[]): Middleware {
  return (handler) => middleware.reduceRight((next, m) => m(next), handler);
}

/**
 * The runtime around a service's handler, outermost first: metrics, chunks
 * of maxBatch, filter by type, dead letters, retry, decode, trace. So a record the
 * consumer does not use is dropped before decoding; a registry outage is
 * retried for as long as it lasts; a record that cannot decode, or that the
 * handler refuses for good or keeps failing, is parked with its reason and
 * the partition moves on.
 */
export function consumerPipeline(handler: Handler, options: ConsumerPipelineOptions): Handler {
  const { group, metrics } = options;
  const classify = options.retry.classify ?? defaultRetryClass;
  const stages: Middleware[] = [measure(metrics, group)];
  if (options.maxBatch !== undefined) stages.push(batch({ maxMessages: options.maxBatch }));
  if (options.types) {
    stages.push(
      filterByType(options.types, {
        onSkipped: (n, topic) => metrics.messages.inc({ group, topic, outcome: 'filtered' }, n),
      }),
    );
  }
  stages.push(
    deadLetter({
      ...options.deadLetters,
      group,
      // What retry gave up on arrives as retries_exhausted (never retriable); what is still
      // worth retrying (an outage) reaches the subscriber, which hands the batch over again.
      parks: (err) => classify(err) === 'never',
      onParked: (record, code, reason) => {
        metrics.deadLetters.inc({ group, topic: record.topic, code });
        options.onParked?.(record, code, reason);
      },
    }),
  );
  stages.push(
    retry({
      ...options.retry,
      classify,
      onRetry: (err, attempt, delayMs, kind, topic) => {
        metrics.retries.inc({ group, topic, kind });
        options.onRetry?.(err, attempt, delayMs);
      },
    }),
  );
  if (options.codec) stages.push(decode(options.codec));
  // Innermost: each attempt at a batch is a span of its own, and a record parked undecoded has none.
  if (options.tracer) stages.push(traced({ tracer: options.tracer, group }));
  return compose(...stages)(handler);
}

/** A subscriber bound to its handler: what a service starts, probes and stops. */
export interface BoundConsumer {
  start(): Promise<void>;
  stop(): Promise<void>;
  assertConsuming(): void;
}

export function bindConsumer(subscriber: Subscriber, handler: Handler, hooks?: AssignmentHooks): BoundConsumer {
  return {
    start: () => subscriber.start(handler, hooks),
    stop: () => subscriber.stop(),
    assertConsuming: () => subscriber.assertConsuming(),
  };
}
