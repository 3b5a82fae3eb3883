import { Writable } from 'node:stream';
import { context, trace } from '@opentelemetry/api';
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace-node';
import { createLogger } from './logger';
import { activeTraceparent, contextFromTraceparent, createTracing, formatTraceparent, parseTraceparent } from './tracing';

const CALLER = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';

function capture() {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      done();
    },
  });
  return { logger: createLogger('test', 'info', sink), lines };
}

describe('traceparent', () => {
  it('parses a W3C traceparent and formats it back unchanged', () => {
    expect(formatTraceparent(parseTraceparent(CALLER))).toBe(CALLER);
  });

  it('refuses malformed and all-zero traceparents', () => {
    for (const bad of [
      '',
      'garbage',
      '01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
      `00-${'0'.repeat(32)}-b7ad6b7169203331-01`,
    ]) {
      expect(parseTraceparent(bad)).toBeUndefined();
    }
  });
});

describe('log lines inside a span', () => {
  const exporter = new InMemorySpanExporter();
  const tracing = createTracing('test', { exporter: 'none', sampleRatio: 1 }, exporter);
  afterAll(() => tracing.shutdown());

  it('carry the trace id and span id of the active span, across an await', async () => {
    const { logger, lines } = capture();
    const span = tracing.tracer.startSpan('work', {}, contextFromTraceparent(CALLER));
    await context.with(trace.setSpan(context.active(), span), async () => {
      await new Promise((resolve) => setImmediate(resolve));
      logger.info('inside');
    });
    span.end();
    expect(lines[0]).toMatchObject({
      msg: 'inside',
      trace_id: '0af7651916cd43dd8448eb211c80319c',
      span_id: span.spanContext().spanId,
    });
  });

  it('carry no trace fields outside a span', () => {
    const { logger, lines } = capture();
    logger.info('outside');
    expect(lines[0]).not.toHaveProperty('trace_id');
    expect(lines[0]).not.toHaveProperty('span_id');
  });

  it('a child logger keeps the trace fields', () => {
    const { logger, lines } = capture();
    const span = tracing.tracer.startSpan('work');
    context.with(trace.setSpan(context.active(), span), () => logger.child({ component: 'c' }).warn('child'));
    span.end();
    expect(lines[0]).toMatchObject({ component: 'c', trace_id: span.spanContext().traceId });
  });
});

describe('tracing off', () => {
  it('records nothing but passes a caller traceparent through', () => {
    const off = createTracing('test', { exporter: 'none', sampleRatio: 1 });
    expect(off.enabled).toBe(false);
    const span = off.tracer.startSpan('work', {}, contextFromTraceparent(CALLER));
    expect(span.isRecording()).toBe(false);
    expect(context.with(trace.setSpan(context.active(), span), activeTraceparent)).toBe(CALLER);
  });

  it('starts no trace of its own', () => {
    const off = createTracing('test', { exporter: 'none', sampleRatio: 1 });
    const span = off.tracer.startSpan('work');
    expect(formatTraceparent(span.spanContext())).toBeUndefined();
  });
});

describe('sampling', () => {
  it('follows the caller: an unsampled caller gets no recorded child even at ratio 1', () => {
    const exporter = new InMemorySpanExporter();
    const tracing = createTracing('test', { exporter: 'none', sampleRatio: 1 }, exporter);
    tracing.tracer.startSpan('work', {}, contextFromTraceparent(CALLER.replace(/-01$/, '-00'))).end();
    tracing.tracer.startSpan('work', {}, contextFromTraceparent(CALLER)).end();
    expect(exporter.getFinishedSpans().map((s) => s.spanContext().traceId)).toEqual(['0af7651916cd43dd8448eb211c80319c']);
  });

  it('records no new trace at ratio 0', () => {
    const exporter = new InMemorySpanExporter();
    const tracing = createTracing('test', { exporter: 'none', sampleRatio: 0 }, exporter);
    tracing.tracer.startSpan('work').end();
    expect(exporter.getFinishedSpans()).toHaveLength(0);
  });
});
