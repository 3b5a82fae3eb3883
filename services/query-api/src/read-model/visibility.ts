import { parseTraceparent, ROOT_CONTEXT, SpanKind, trace, type Freshness, type Tracer } from '@sluice/observability';
import type { ChangeMessage } from '@sluice/projection-kit';

export interface VisibilityOptions {
  freshness: Freshness;
  tracer?: Tracer;
  clock?: () => number;
}

/**
 * A change is visible here once its notification arrives: its keys' cached answers are dropped,
 * read-your-writes waits and status streams are woken, so the next read returns it. From the
 * origin the projector put on the notification: applied → visible and commit → visible (the end
 * to end age) with the first recorded trace as exemplar, and a `visible` span per recorded trace,
 * child of the event's context, from the projector's apply to now.
 */
export function visibilityObserver(options: VisibilityOptions): (message: ChangeMessage) => void {
  const clock = options.clock ?? Date.now;
  return (message) => {
    if (message.kind !== 'changed' || !message.origin) return;
    const { appliedAtMs, committedAtMs, traceparents } = message.origin;
    const now = clock();
    const parents = traceparents.flatMap((t) => parseTraceparent(t) ?? []);
    const traceId = parents[0]?.traceId;
    options.freshness.observe('applied_to_visible', (now - appliedAtMs) / 1000, traceId);
    if (committedAtMs !== undefined) options.freshness.observe('commit_to_visible', (now - committedAtMs) / 1000, traceId);
    if (!options.tracer) return;
    for (const parent of parents) {
      options.tracer
        .startSpan(
          `visible ${message.projection}`,
          {
            kind: SpanKind.CONSUMER,
            startTime: appliedAtMs,
            attributes: { 'sluice.projection': message.projection, 'sluice.keys': message.keys.length },
          },
          trace.setSpanContext(ROOT_CONTEXT, parent),
        )
        .end(now);
    }
  };
}
