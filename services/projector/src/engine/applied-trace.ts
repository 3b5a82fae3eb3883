import {
  isSampled,
  parseTraceparent,
  ROOT_CONTEXT,
  SpanKind,
  trace,
  type Freshness,
  type SpanContext,
  type Tracer,
} from '@sluice/observability';
import { PUBLISHED_AT_HEADER } from '@sluice/messaging';
import { MAX_ORIGIN_TRACES, type ChangeOrigin } from '@sluice/projection-kit';
import type { BatchRecord, RawRecord } from './records';

function header(raw: RawRecord, name: string): string | undefined {
  return raw.headers[name]?.[0]?.toString('latin1');
}

function traceOf(raw: RawRecord): SpanContext | undefined {
  return parseTraceparent(header(raw, 'traceparent'));
}

/**
 * What a batch's change notification says of where it came from: now as the applied time, the
 * oldest record timestamp (the outbox row's commit-time column, which the relay makes the record's
 * timestamp) and the traceparents of the recorded traces among the records.
 */
export function originOf(records: readonly BatchRecord[], nowMs: number): ChangeOrigin {
  let committedAtMs: number | undefined;
  const traceparents: string[] = [];
  for (const { raw } of records) {
    const ts = raw.timestamp?.getTime();
    if (ts !== undefined && (committedAtMs === undefined || ts < committedAtMs)) committedAtMs = ts;
    if (traceparents.length < MAX_ORIGIN_TRACES && isSampled(traceOf(raw))) traceparents.push(header(raw, 'traceparent')!);
  }
  return { appliedAtMs: nowMs, committedAtMs, traceparents };
}

export interface AppliedTraceOptions {
  topic: string;
  groupId: string;
  tracer?: Tracer;
  freshness?: Freshness;
}

/**
 * After a batch committed: its records' freshness (commit to applied, and published to applied
 * for records the relay stamped), and an `apply` span per record of a recorded trace, child of
 * the record's traceparent, spanning the batch from its fetch to its commit. The spans are made
 * after the fact with the batch's times: nothing runs per record while the batch applies.
 */
export class AppliedTrace {
  constructor(private readonly options: AppliedTraceOptions) {}

  applied(records: readonly BatchRecord[], startedMs: number, nowMs: number): void {
    const { tracer, freshness, topic, groupId } = this.options;
    if (!tracer && !freshness) return;
    for (const { raw } of records) {
      const parent = traceOf(raw);
      const traceId = isSampled(parent) ? parent.traceId : undefined;
      if (freshness) {
        const committed = raw.timestamp?.getTime();
        if (committed !== undefined) freshness.observe('commit_to_applied', (nowMs - committed) / 1000, traceId);
        const published = Number(header(raw, PUBLISHED_AT_HEADER));
        if (published > 0) freshness.observe('published_to_applied', (nowMs - published) / 1000, traceId);
      }
      if (tracer && isSampled(parent)) {
        tracer
          .startSpan(
            `apply ${topic}`,
            {
              kind: SpanKind.CONSUMER,
              startTime: startedMs,
              attributes: {
                'messaging.system': 'kafka',
                'messaging.destination.name': topic,
                'messaging.consumer.group.name': groupId,
                'messaging.kafka.offset': String(raw.offset),
                'sluice.batch_size': records.length,
              },
            },
            trace.setSpanContext(ROOT_CONTEXT, parent),
          )
          .end(nowMs);
      }
    }
  }
}
