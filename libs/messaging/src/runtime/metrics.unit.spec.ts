import { Registry } from 'prom-client';
import { metricValue } from '@sluice/testing';
import { ConsumerMetrics, measure } from './metrics';
import { context, messages, record } from './test-support';

describe('measure middleware', () => {
  it('counts handled records, observes batch size and time, and shows the batch in flight while it runs', async () => {
    const registry = new Registry();
    const metrics = ConsumerMetrics.for(registry);
    let inFlight = NaN;
    await measure(
      metrics,
      'g',
    )(async () => {
      inFlight = metricValue(await registry.metrics(), 'sluice_consumer_batches_in_flight');
    })(messages(record(1), record(2)), context());
    const text = await registry.metrics();
    expect(inFlight).toBe(1);
    expect(metricValue(text, 'sluice_consumer_batches_in_flight')).toBe(0);
    expect(text).toMatch(/sluice_consumer_messages_total\{group="g",topic="t",outcome="handled"\} 2/);
    expect(text).toMatch(/sluice_consumer_batch_size_sum\{group="g",topic="t"\} 2/);
    expect(text).toMatch(/sluice_consumer_batch_seconds_count\{group="g",topic="t"\} 1/);
  });

  it('counts nothing as handled when the handler fails, and leaves nothing in flight', async () => {
    const registry = new Registry();
    const run = measure(ConsumerMetrics.for(registry), 'g')(async () => Promise.reject(new Error('x')));
    await expect(run(messages(record(1)), context())).rejects.toThrow('x');
    const text = await registry.metrics();
    expect(text).not.toMatch(/outcome="handled"/);
    expect(metricValue(text, 'sluice_consumer_batches_in_flight')).toBe(0);
  });

  it('is one set of metrics per registry, shared by every consumer of the process', () => {
    const registry = new Registry();
    expect(ConsumerMetrics.for(registry)).toBe(ConsumerMetrics.for(registry));
  });
});
