import { errorMessage, isRetriable, SluiceError } from '@sluice/core';
import { failedRecord, failureCode } from './errors';
import { deadLetterHeaders } from './headers';
import type { BatchContext, ConsumedMessage, Handler, InboundRecord, Middleware, Publisher } from './ports';

export interface DeadLetterOptions {
  /** Whether a failure may be parked; by default one that is not retriable (SluiceError.retriable). */
  parks?: (err: unknown) => boolean;
  publisher: Publisher;
  /** The dead-letter topic (one per consumer group: deadLetterTopic(group)). */
  topic: string;
  /** The consumer group, written to dlq.consumer.group. */
  group: string;
  clock?: () => number;
  onParked?: (record: InboundRecord, code: string, reason: string) => void;
}

/**
 * Parks what can never succeed on the dead-letter topic, with the dlq.*
 * headers, and carries on with the rest of the batch. A failure that names
 * its record (RecordError) parks that record; one that names none is
 * narrowed down by handling the batch's records one at a time. Retriable
 * failures are never parked: they are rethrown, for the retry middleware
 * or the subscriber. The copy is acknowledged (acks=all) before the
 * handler returns, so the original's offset is committed only after it.
 */
export function deadLetter(options: DeadLetterOptions): Middleware {
  const clock = options.clock ?? Date.now;
  const parks = options.parks ?? ((err: unknown) => !isRetriable(err));
  const park = async (record: InboundRecord, err: unknown): Promise<void> => {
    const code = failureCode(err);
    const reason = errorMessage(err);
    const attempts = err instanceof SluiceError && typeof err.details.attempts === 'number' ? err.details.attempts : 1;
    await options.publisher.publish(options.topic, [
      {
        key: record.key,
        value: record.value,
        partition: undefined,
        headers: deadLetterHeaders(record, { code, reason, attempts, group: options.group }, new Date(clock())),
      },
    ]);
    options.onParked?.(record, code, reason);
  };

  return (next) => {
    const run: Handler = async (messages: readonly ConsumedMessage[], ctx: BatchContext) => {
      let rest = messages;
      for (;;) {
        try {
          if (rest.length > 0) await next(rest, ctx);
          return;
        } catch (err) {
          if (!parks(err)) throw err;
          const named = failedRecord(err);
          const index = named ? rest.findIndex((m) => m.record === named || sameRecord(m.record, named)) : -1;
          if (index >= 0) {
            await park(rest[index]!.record, err);
            rest = [...rest.slice(0, index), ...rest.slice(index + 1)];
            continue;
          }
          if (rest.length === 1) {
            await park(rest[0]!.record, err);
            return;
          }
          // The culprit is unknown: one record at a time finds it (each one alone is parked or passes).
          for (const message of rest) await run([message], ctx);
          return;
        }
      }
    };
    return run;
  };
}

function sameRecord(a: InboundRecord, b: InboundRecord): boolean {
  return a.topic === b.topic && a.partition === b.partition && a.offset === b.offset;
}
