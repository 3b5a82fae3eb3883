import { context, ROOT_CONTEXT, trace, TraceFlags, type Context, type SpanContext, type Tracer } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { ZipkinExporter } from '@opentelemetry/exporter-zipkin';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  BatchSpanProcessor,
  NodeTracerProvider,
  ParentBasedSampler,
  SimpleSpanProcessor,
  TraceIdRatioBasedSampler,
  type SpanExporter,
} from '@opentelemetry/sdk-trace-node';

export type { Attributes, Context, Link, Span, SpanContext, Tracer } from '@opentelemetry/api';
export { context, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';

export const TRACING_EXPORTERS = ['none', 'zipkin', 'otlp'] as const;
export type TracingExporter = (typeof TRACING_EXPORTERS)[number];

export interface TracingSettings {
  /** Where finished spans go; none: no span is recorded, a caller's traceparent still passes through. */
  exporter: TracingExporter;
  /** Zipkin's /api/v2/spans or an OTLP/HTTP collector's /v1/traces. */
  endpoint?: string | undefined;
  /** Share of new traces recorded (0..1); a trace a caller started follows the caller's decision. */
  sampleRatio: number;
}

export interface Tracing {
  readonly tracer: Tracer;
  /** False when spans are not recorded at all (exporter none): callers skip span bookkeeping. */
  readonly enabled: boolean;
  /** Exports what is buffered, then stops. */
  shutdown(): Promise<void>;
}

/** Default endpoints of a local Zipkin and of an OpenTelemetry collector beside the process. */
export const DEFAULT_TRACING_ENDPOINTS: Record<Exclude<TracingExporter, 'none'>, string> = {
  zipkin: 'http://127.0.0.1:9411/api/v2/spans',
  otlp: 'http://127.0.0.1:4318/v1/traces',
};

let contextManagerSet = false;

/**
 * The active span follows the code across awaits (AsyncLocalStorage), once per process whatever
 * the number of tracers: log lines and outbox writes read it.
 */
export function ensureTraceContext(): void {
  if (contextManagerSet) return;
  const manager = new AsyncLocalStorageContextManager().enable();
  if (!context.setGlobalContextManager(manager)) manager.disable();
  contextManagerSet = true;
}

/**
 * The tracer of one service. Each service builds its own (a provider named after it, injected, not
 * registered globally), so services assembled in one process (tests) still report under their own
 * names. `spanExporter` replaces the configured exporter (tests: an in-memory one, exported at once).
 */
export function createTracing(service: string, settings: TracingSettings, spanExporter?: SpanExporter): Tracing {
  ensureTraceContext();
  const exporter = spanExporter ?? exporterOf(service, settings);
  if (!exporter) return { tracer: trace.getTracer(service), enabled: false, shutdown: async () => undefined };
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ 'service.name': service }),
    sampler: new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(settings.sampleRatio) }),
    // Export happens off the hot path, in batches; a test's exporter sees each span when it ends.
    spanProcessors: [spanExporter ? new SimpleSpanProcessor(exporter) : new BatchSpanProcessor(exporter)],
  });
  return { tracer: provider.getTracer(service), enabled: true, shutdown: () => provider.shutdown() };
}

function exporterOf(service: string, settings: TracingSettings): SpanExporter | undefined {
  switch (settings.exporter) {
    case 'none':
      return undefined;
    case 'zipkin':
      return new ZipkinExporter({ url: settings.endpoint ?? DEFAULT_TRACING_ENDPOINTS.zipkin, serviceName: service });
    case 'otlp':
      return new OTLPTraceExporter({ url: settings.endpoint ?? DEFAULT_TRACING_ENDPOINTS.otlp });
    default: {
      const never: never = settings.exporter;
      throw new Error(`unknown tracing exporter ${String(never)}`);
    }
  }
}

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;
const INVALID_TRACE = '00000000000000000000000000000000';
const INVALID_SPAN = '0000000000000000';

/** A W3C traceparent (version 00) as a remote span context; undefined when absent or malformed. */
export function parseTraceparent(value: string | undefined | null): SpanContext | undefined {
  if (!value) return undefined;
  const m = TRACEPARENT.exec(value.trim());
  if (!m || m[1] === INVALID_TRACE || m[2] === INVALID_SPAN) return undefined;
  return { traceId: m[1]!, spanId: m[2]!, traceFlags: parseInt(m[3]!, 16) & TraceFlags.SAMPLED, isRemote: true };
}

/** The context whose parent is the given traceparent (the root context when there is none). */
export function contextFromTraceparent(value: string | undefined | null): Context {
  const parent = parseTraceparent(value);
  return parent ? trace.setSpanContext(ROOT_CONTEXT, parent) : ROOT_CONTEXT;
}

/** A span context as a W3C traceparent; undefined for the invalid context of an unsampled no-op span. */
export function formatTraceparent(sc: SpanContext | undefined): string | undefined {
  if (!sc || sc.traceId === INVALID_TRACE || sc.spanId === INVALID_SPAN) return undefined;
  return `00-${sc.traceId}-${sc.spanId}-${sc.traceFlags & TraceFlags.SAMPLED ? '01' : '00'}`;
}

/** The traceparent of the span active here, if any: what an outbox row or an outgoing message carries. */
export function activeTraceparent(): string | undefined {
  return formatTraceparent(trace.getActiveSpan()?.spanContext());
}

/** Whether spans under this context are recorded: only then is a child span worth building. */
export function isSampled(sc: SpanContext | undefined): sc is SpanContext {
  return sc !== undefined && (sc.traceFlags & TraceFlags.SAMPLED) !== 0;
}

/** The trace id of the span active here (for exemplars and log lines), if it is recorded. */
export function activeTraceId(): string | undefined {
  const sc = trace.getActiveSpan()?.spanContext();
  return isSampled(sc) ? sc.traceId : undefined;
}
