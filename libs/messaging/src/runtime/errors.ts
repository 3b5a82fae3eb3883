import { SluiceError } from '@sluice/core';
import type { InboundRecord } from './ports';

/**
 * Why the runtime gave up on a record:
 * - undecodable: its value can never decode (not the wire format, unknown schema, no value);
 * - retries_exhausted: it kept failing for a passing reason until the retry budget ran out;
 * - handler_rejected: the handler refused it for good (its error was not retriable).
 */
export type ConsumerErrorCode = 'undecodable' | 'retries_exhausted' | 'handler_rejected';

/**
 * A failure a handler pins on one record. Thrown with retriable=false, the
 * dead-letter middleware parks that record (with `code`) and carries on with
 * the rest; retriable, the retry middleware tries again.
 */
export class RecordError<Code extends string = string> extends SluiceError<Code> {
  constructor(
    code: Code,
    message: string,
    readonly record: InboundRecord,
    options: { cause?: unknown; retriable?: boolean } = {},
  ) {
    super(code, message, options);
  }
}

/** The record a failure names, if it names one. */
export function failedRecord(err: unknown): InboundRecord | undefined {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 8; e = e.cause, depth++) {
    if (e instanceof RecordError) return e.record;
  }
  return undefined;
}

/** The closed-set code a dead letter carries: the error's own code when it has one. */
export function failureCode(err: unknown): string {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 8; e = e.cause, depth++) {
    if (e instanceof SluiceError) return (e as SluiceError<string>).code;
  }
  return 'handler_rejected';
}
