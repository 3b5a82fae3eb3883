import { InMemorySpanExporter } from '@opentelemetry/sdk-trace-node';
import { activeTraceparent, createTracing } from '@sluice/observability';
import { eachMessage } from './batch';
import { context, messages, record } from './test-support';
import { traced } from './trace';

const TRACE = '0af7651916cd43dd8448eb211c80319c';
const sampled = (span: string) => `00-${TRACE}-${span}-01`;

function setup() {
  const exporter = new InMemorySpanExporter();
  const tracing = createTracing('consumer', { exporter: 'none', sampleRatio: 1 }, exporter);
  return { exporter, wrap: traced({ tracer: tracing.tracer, group: 'g' }) };
}

describe('traced (consumer spans)', () => {
  it('gives each record of a recorded trace a consumer span, child of its traceparent', async () => {
    const { exporter, wrap } = setup();
    const batch = messages(
      record(1, { headers: { traceparent: sampled('b7ad6b7169203331') } }),
      record(2),
      record(3, { headers: { traceparent: `00-${TRACE}-c7ad6b7169203332-00` } }),
    );
    await wrap(async () => undefined)(batch, context());
    const spans = exporter.getFinishedSpans();
    expect(spans.map((s) => [s.name, s.spanContext().traceId, s.parentSpanContext?.spanId])).toEqual([
      ['process t', TRACE, 'b7ad6b7169203331'],
    ]);
    expect(spans[0]!.attributes).toMatchObject({ 'messaging.kafka.offset': '1', 'messaging.consumer.group.name': 'g' });
  });

  it('runs each record of a looping handler in its own span, so what it writes carries that span', async () => {
    const { exporter, wrap } = setup();
    const seen: (string | undefined)[] = [];
    const batch = messages(
      record(1, { headers: { traceparent: sampled('b7ad6b7169203331') } }),
      record(2, { headers: { traceparent: sampled('c7ad6b7169203332') } }),
      record(3),
    );
    await wrap(eachMessage(async () => void seen.push(activeTraceparent())))(batch, context());
    const spanIds = exporter.getFinishedSpans().map((s) => s.spanContext().spanId);
    expect(seen).toEqual([sampled(spanIds[0]!), sampled(spanIds[1]!), undefined]);
  });

  it('passes an unrecorded trace through to what the handler writes, without a span', async () => {
    const { exporter, wrap } = setup();
    const unsampled = `00-${TRACE}-b7ad6b7169203331-00`;
    const seen: (string | undefined)[] = [];
    await wrap(eachMessage(async () => void seen.push(activeTraceparent())))(
      messages(record(1, { headers: { traceparent: unsampled } })),
      context(),
    );
    expect([seen, exporter.getFinishedSpans()]).toEqual([[unsampled], []]);
  });

  it('marks the spans of a batch whose handler throws as failed, and rethrows', async () => {
    const { exporter, wrap } = setup();
    const failing = wrap(async () => {
      throw new Error('projection broke');
    });
    await expect(
      failing(messages(record(1, { headers: { traceparent: sampled('b7ad6b7169203331') } })), context()),
    ).rejects.toThrow('projection broke');
    expect(exporter.getFinishedSpans()[0]!.status).toEqual({ code: 2, message: 'projection broke' });
  });
});
