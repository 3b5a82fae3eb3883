import { InMemorySpanExporter } from '@opentelemetry/sdk-trace-node';
import { activeTraceparent, createTracing } from '@sluice/observability';
import { inSagaTrace } from './saga-trace';

const TRACE = '0af7651916cd43dd8448eb211c80319c';
const HANDLED = 'b7ad6b7169203331';

function setup() {
  const exporter = new InMemorySpanExporter();
  const tracing = createTracing('payments-worker', { exporter: 'none', sampleRatio: 1 }, exporter);
  return { exporter, tracer: tracing.tracer };
}

describe('inSagaTrace (a withdrawal’s work in its trace)', () => {
  it('runs the work as a span, child of the span that handled the withdrawal, whose traceparent the commands carry', async () => {
    const { exporter, tracer } = setup();
    const carried = await inSagaTrace(tracer, 'payout send_payout', `00-${TRACE}-${HANDLED}-01`, {}, async () =>
      activeTraceparent(),
    );
    const [span] = exporter.getFinishedSpans();
    expect([span!.name, span!.spanContext().traceId, span!.parentSpanContext?.spanId]).toEqual([
      'payout send_payout',
      TRACE,
      HANDLED,
    ]);
    expect(carried).toBe(`00-${TRACE}-${span!.spanContext().spanId}-01`);
  });

  it('passes an unrecorded trace on unspanned', async () => {
    const { exporter, tracer } = setup();
    const unrecorded = `00-${TRACE}-${HANDLED}-00`;
    expect(await inSagaTrace(tracer, 'payout look_up', unrecorded, {}, async () => activeTraceparent())).toBe(unrecorded);
    expect(exporter.getFinishedSpans()).toEqual([]);
  });

  it('runs the work of a saga stored without a trace as it is', async () => {
    const { exporter, tracer } = setup();
    expect(await inSagaTrace(tracer, 'payout send_payout', null, {}, async () => activeTraceparent())).toBeUndefined();
    expect(exporter.getFinishedSpans()).toEqual([]);
  });

  it('marks the span failed when the work throws, and rethrows', async () => {
    const { exporter, tracer } = setup();
    await expect(
      inSagaTrace(tracer, 'webhook payout.paid', `00-${TRACE}-${HANDLED}-01`, {}, async () => {
        throw new Error('database away');
      }),
    ).rejects.toThrow('database away');
    expect(exporter.getFinishedSpans()[0]!.status).toMatchObject({ code: 2, message: 'database away' });
  });
});
