import { throwError } from 'rxjs';
import { SluiceError } from '@sluice/core';
import { RecordError, type BatchContext, type Handler, type InboundRecord, type Subscriber } from '@sluice/messaging';
import { activeTraceparent, ensureTraceContext } from '@sluice/observability';
import { type RuntimeContext } from './runtime-context';
import { RuntimeTransport } from './runtime-transport';

const record = (offset: string, headers: Record<string, Buffer[]> = {}): InboundRecord => ({
  topic: 'events',
  partition: 0,
  offset,
  key: null,
  value: Buffer.from(`v${offset}`),
  headers,
  timestamp: null,
});
const ctx = {} as BatchContext;

function listening(onEvent: (data: unknown, context: RuntimeContext) => unknown) {
  let handler: Handler | undefined;
  let topics: readonly string[] = [];
  const subscriber: Subscriber = {
    start: async (h) => void (handler = h),
    stop: async () => undefined,
    assertConsuming: () => undefined,
  };
  const transport = new RuntimeTransport({
    subscriber: (t) => {
      topics = t;
      return subscriber;
    },
    pipeline: (dispatch) => dispatch,
  });
  transport.addHandler('events', async (data: unknown, context: RuntimeContext) => onEvent(data, context), true);
  transport.listen(() => undefined);
  return {
    run: (offsets: string[], headers: Record<string, Buffer[]> = {}) =>
      handler!(
        offsets.map((o) => ({ record: record(o, headers) })),
        ctx,
      ),
    topics: () => topics,
  };
}

describe('RuntimeTransport', () => {
  it('subscribes to the topics its @EventPattern handlers name and hands them each record in order, with its context', async () => {
    const seen: string[] = [];
    const t = listening((data, context) => seen.push(`${String(data)}@${context.getRecord().offset}`));
    await t.run(['1', '2']);
    expect(t.topics()).toEqual(['events']);
    expect(seen).toEqual(['v1@1', 'v2@2']);
  });

  it("runs each handler in its record's trace context, so what it writes carries the record's traceparent", async () => {
    ensureTraceContext();
    const traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    const seen: (string | undefined)[] = [];
    const t = listening(() => seen.push(activeTraceparent()));
    await t.run(['1'], { traceparent: [Buffer.from(traceparent)] });
    await t.run(['2']);
    expect(seen).toEqual([traceparent, undefined]);
  });

  it('pins a handler error on its record, keeping its code and retriable flag', async () => {
    const t = listening((data) =>
      String(data) === 'v2' ? throwError(() => new SluiceError('broker_unavailable', 'down', { retriable: true })) : undefined,
    );
    const err = await t.run(['1', '2']).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RecordError);
    expect(err).toMatchObject({ code: 'broker_unavailable', retriable: true, record: { offset: '2' } });
  });
});
