import {
  context,
  isSampled,
  parseTraceparent,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Attributes,
  type Tracer,
} from '@sluice/observability';

/**
 * Runs work done for one withdrawal (a saga step, a webhook applied to it) in the withdrawal's
 * trace: the traceparent stored with the saga, the span that handled its WithdrawalRequested.
 * When that trace is recorded and a tracer is given, the work is a span of it, child of that span,
 * so the commands it writes carry the span's traceparent (SagaStore.apply reads the active one).
 * An unrecorded trace still passes on: the work runs in its context, unspanned. A saga stored
 * before traces were kept has none, and the work runs as it is.
 */
export async function inSagaTrace<T>(
  tracer: Tracer | undefined,
  name: string,
  traceparent: string | null,
  attributes: Attributes,
  work: () => Promise<T>,
): Promise<T> {
  const parent = parseTraceparent(traceparent);
  if (!parent) return work();
  const parentContext = trace.setSpanContext(ROOT_CONTEXT, parent);
  if (!tracer || !isSampled(parent)) return context.with(parentContext, work);
  const span = tracer.startSpan(name, { kind: SpanKind.INTERNAL, attributes }, parentContext);
  try {
    return await context.with(trace.setSpan(parentContext, span), work);
  } catch (err) {
    span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error).message });
    throw err;
  } finally {
    span.end();
  }
}
