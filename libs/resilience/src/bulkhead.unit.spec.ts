import { setTimeout as sleep } from 'node:timers/promises';
import { Registry } from 'prom-client';
import { Bulkhead } from './bulkhead';
import { ResilienceError } from './errors';

function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((r) => (open = r));
  return { promise, open };
}

describe('Bulkhead', () => {
  it('runs up to its limit at once, queues a bounded few in order, refuses the rest with overloaded', async () => {
    const registry = new Registry();
    const bulkhead = new Bulkhead({ dependency: 'psp', limit: 2, maxQueue: 1, maxQueueWaitMs: 5_000, registry });
    const g = gate();
    const started: number[] = [];
    const calls = [1, 2, 3].map((i) =>
      bulkhead.run(async () => {
        started.push(i);
        await g.promise;
        return i;
      }),
    );
    await sleep(0);
    expect(started).toEqual([1, 2]);
    expect(bulkhead.inFlight).toBe(2);
    expect(bulkhead.queued).toBe(1);
    expect(bulkhead.available).toBe(0);
    const refused = await bulkhead.run(async () => 4).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(ResilienceError);
    expect(refused).toMatchObject({ code: 'overloaded', details: { reason: 'queue_full', dependency: 'psp' } });
    g.open();
    expect(await Promise.all(calls)).toEqual([1, 2, 3]);
    expect(started).toEqual([1, 2, 3]);
    expect(bulkhead.inFlight).toBe(0);
    expect(await registry.getSingleMetricAsString('sluice_bulkhead_rejects_total')).toContain(
      'dependency="psp",reason="queue_full"} 1',
    );
  });

  it('refuses a caller that waited maxQueueWaitMs, and frees the slot of a call that failed', async () => {
    const bulkhead = new Bulkhead({ dependency: 'psp', limit: 1, maxQueue: 5, maxQueueWaitMs: 20 });
    const g = gate();
    const holder = bulkhead.run(() => g.promise);
    await expect(bulkhead.run(async () => 1)).rejects.toMatchObject({ details: { reason: 'queue_timeout' } });
    g.open();
    await holder;
    await expect(bulkhead.run(() => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(await bulkhead.run(async () => 'next')).toBe('next');
  });

  it('never runs more than its limit under a crowd', async () => {
    const bulkhead = new Bulkhead({ dependency: 'psp', limit: 3, maxQueue: 1_000, maxQueueWaitMs: 5_000 });
    let running = 0;
    let peak = 0;
    await Promise.all(
      Array.from({ length: 100 }, () =>
        bulkhead.run(async () => {
          peak = Math.max(peak, ++running);
          await sleep(1);
          running--;
        }),
      ),
    );
    expect(peak).toBe(3);
  });
});
