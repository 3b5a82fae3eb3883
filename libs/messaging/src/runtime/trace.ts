import {
  context,
  isSampled,
  parseTraceparent,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Context,
  type Span,
  type Tracer,
} from '@sluice/observability';
import { headerText } from './headers';
import type { InboundRecord, Middleware } from './ports';

/** The span each traced record is handled under, while its batch is handled. */
const recordSpans = new WeakMap<InboundRecord, Span>();

/**
 * A consumer span per record whose `traceparent` header is of a recorded trace, child of it, for
 * the time the handler takes with the record's batch. Per record rather than one span per batch
 * with links: the record's trace (the deposit a client made) then shows every consumer that
 * handled it, which a trace viewer does not do for links; a record's span is only built when its
 * trace is recorded, so an untraced stream pays one header read per record. A batch of one record
 * runs inside its span, so the handler's own spans and log lines join its trace; handlers that
 * loop over a batch run each record inside its span with withRecordContext.
 */
export function traced(options: { tracer: Tracer; group: string }): Middleware {
  const { tracer, group } = options;
  return (next) => async (messages, ctx) => {
    let spans: Span[] | undefined;
    for (const { record } of messages) {
      const parent = parseTraceparent(headerText(record, 'traceparent'));
      if (!isSampled(parent)) continue;
      const span = tracer.startSpan(
        `process ${record.topic}`,
        {
          kind: SpanKind.CONSUMER,
          attributes: {
            'messaging.system': 'kafka',
            'messaging.destination.name': record.topic,
            'messaging.consumer.group.name': group,
            'messaging.destination.partition.id': String(record.partition),
            'messaging.kafka.offset': record.offset,
            'sluice.batch_size': messages.length,
          },
        },
        trace.setSpanContext(ROOT_CONTEXT, parent),
      );
      recordSpans.set(record, span);
      (spans ??= []).push(span);
    }
    if (!spans) return next(messages, ctx);
    try {
      const only = messages.length === 1 ? recordSpans.get(messages[0]!.record) : undefined;
      await (only ? context.with(trace.setSpan(context.active(), only), () => next(messages, ctx)) : next(messages, ctx));
    } catch (err) {
      for (const span of spans) span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error).message });
      throw err;
    } finally {
      for (const span of spans) span.end();
    }
  };
}

/**
 * The context a record is handled in: its consumer span's while traced() holds one, else the
 * context its traceparent names (an unrecorded trace still passes on to what the handler writes).
 */
export function recordContext(record: InboundRecord): Context | undefined {
  const span = recordSpans.get(record);
  if (span) return trace.setSpan(ROOT_CONTEXT, span);
  const parent = parseTraceparent(headerText(record, 'traceparent'));
  return parent ? trace.setSpanContext(ROOT_CONTEXT, parent) : undefined;
}

/** Runs fn inside the record's context (see recordContext), or as it is when the record carries none. */
export function withRecordContext<T>(record: InboundRecord, fn: () => T): T {
  const ctx = recordContext(record);
  return ctx ? context.with(ctx, fn) : fn();
}
