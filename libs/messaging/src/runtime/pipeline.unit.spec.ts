import { Registry } from 'prom-client';
import { SluiceError } from '@sluice/core';
import { metricValue } from '@sluice/testing';
import { ConsumerMetrics } from './metrics';
import { compose, consumerPipeline } from './pipeline';
import type { Middleware } from './ports';
import { context, MemoryPublisher, messages, offsets, record } from './test-support';

describe('consumerPipeline', () => {
  it('compose applies middleware outermost first', async () => {
    const order: string[] = [];
    const tag =
      (name: string): Middleware =>
      (next) =>
      async (ms, ctx) => {
        order.push(name);
        await next(ms, ctx);
      };
    await compose(tag('a'), tag('b'))(async () => void order.push('h'))(messages(record(1)), context());
    expect(order).toEqual(['a', 'b', 'h']);
  });

  it('filters before decoding, parks what does not decode, and hands the rest decoded', async () => {
    const registry = new Registry();
    const publisher = new MemoryPublisher();
    const decoded: string[] = [];
    const codec = {
      decode: async (v: Buffer) => {
        decoded.push(v.toString());
        if (v.toString() === 'junk') throw new SluiceError('bad_wire_format', 'not framed');
        return { type: 'WithdrawalRequested', data: v.toString(), schemaId: 1 };
      },
    };
    let handled: string[] = [];
    const handler = consumerPipeline(async (ms) => void (handled = offsets(ms)), {
      group: 'g',
      metrics: ConsumerMetrics.for(registry),
      types: ['WithdrawalRequested'],
      codec,
      retry: { maxAttempts: 2, baseMs: 1, maxMs: 1 },
      deadLetters: { publisher, topic: 'g.dlq' },
    });
    await handler(
      messages(
        record(1, { headers: { type: 'FundsDeposited' } }),
        record(2, { value: 'junk', headers: { type: 'WithdrawalRequested' } }),
        record(3, { headers: { type: 'WithdrawalRequested' } }),
      ),
      context(),
    );
    expect(handled).toEqual(['3']);
    expect(decoded).not.toContain('v1');
    expect(publisher.sent.map((s) => s.message.headers?.['dlq.error.code'])).toEqual(['bad_wire_format']);
    const text = await registry.metrics();
    expect(metricValue(text, 'sluice_consumer_dead_letters_total')).toBe(1);
    expect(text).toMatch(/sluice_consumer_messages_total\{group="g",topic="t",outcome="filtered"\} 1/);
    expect(text).toMatch(/sluice_consumer_messages_total\{group="g",topic="t",outcome="handled"\} 3/);
  });
});
