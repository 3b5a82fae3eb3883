import { setTimeout as sleep } from 'node:timers/promises';
import { Registry } from 'prom-client';
import { AdmissionController } from './admission-controller';
import { Deadline } from './deadline';
import { ResilienceError } from './errors';

function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((r) => (open = r));
  return { promise, open };
}

const limit = { initial: 2, min: 1, max: 4, latencyThresholdMs: 1_000 };

describe('AdmissionController', () => {
  it('runs up to the limit at once, queues the next in FIFO order, and refuses past the queue with overloaded', async () => {
    const registry = new Registry();
    const ac = new AdmissionController({ dependency: 'db', limit, maxQueueDepth: 2, maxQueueWaitMs: 5_000, registry });
    const g = gate();
    const order: number[] = [];
    const calls = [1, 2, 3, 4].map((i) =>
      ac.run(async () => {
        order.push(i);
        await g.promise;
        return i;
      }),
    );
    await sleep(0);
    expect(order).toEqual([1, 2]);
    expect(ac.inFlight).toBe(2);
    expect(ac.queueDepth).toBe(2);
    const refused = await ac.run(async () => 5).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(ResilienceError);
    expect(refused).toMatchObject({ code: 'overloaded', details: { reason: 'queue_full', dependency: 'db' } });
    expect((refused as ResilienceError).retryAfterMs).toBeGreaterThan(0);
    g.open();
    expect(await Promise.all(calls)).toEqual([1, 2, 3, 4]);
    expect(order).toEqual([1, 2, 3, 4]);
    const metrics = await registry.metrics();
    expect(metrics).toContain('sluice_admission_rejects_total{dependency="db",reason="queue_full"} 1');
    expect(metrics).toMatch(/sluice_admission_limit\{dependency="db"\} \d/);
    expect(metrics).toContain('sluice_admission_in_flight{dependency="db"} 0');
  });

  it('reports several controllers to one registry, each under its dependency label; a second controller of one dependency is refused', async () => {
    const registry = new Registry();
    const writes = new AdmissionController({ dependency: 'db', limit, maxQueueDepth: 2, maxQueueWaitMs: 5_000, registry });
    const reads = new AdmissionController({
      dependency: 'db_reads',
      limit: { ...limit, initial: 3 },
      maxQueueDepth: 2,
      maxQueueWaitMs: 5_000,
      registry,
    });
    const g = gate();
    const running = writes.run(() => g.promise);
    const metrics = await registry.metrics();
    expect(metrics).toContain('sluice_admission_in_flight{dependency="db"} 1');
    expect(metrics).toContain('sluice_admission_in_flight{dependency="db_reads"} 0');
    expect(metrics).toContain('sluice_admission_limit{dependency="db_reads"} 3');
    expect(reads.limit).toBe(3);
    expect(() => new AdmissionController({ dependency: 'db', limit, maxQueueDepth: 1, maxQueueWaitMs: 1, registry })).toThrow(
      'already reports to this registry',
    );
    g.open();
    await running;
  });

  it('never runs more than the limit, even with callers arriving while queued ones resume', async () => {
    const ac = new AdmissionController({ dependency: 'db', limit, maxQueueDepth: 1_000, maxQueueWaitMs: 5_000 });
    let running = 0;
    let peak = 0;
    await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        sleep(i % 7).then(() =>
          ac.run(async () => {
            peak = Math.max(peak, ++running);
            await sleep(1);
            running--;
          }),
        ),
      ),
    );
    expect(peak).toBeLessThanOrEqual(4);
  });

  it('refuses a caller that waited maxQueueWaitMs with overloaded/queue_timeout, and one whose deadline ends first with deadline_exceeded', async () => {
    const ac = new AdmissionController({
      dependency: 'db',
      limit: { ...limit, initial: 1, max: 1 },
      maxQueueDepth: 10,
      maxQueueWaitMs: 30,
    });
    const g = gate();
    const holder = ac.run(() => g.promise);
    const timedOut = await ac.run(async () => 1).catch((e: unknown) => e);
    expect(timedOut).toMatchObject({ code: 'overloaded', details: { reason: 'queue_timeout' } });
    const tooLate = await ac.run(async () => 1, Deadline.after(5)).catch((e: unknown) => e);
    expect(tooLate).toMatchObject({ code: 'deadline_exceeded' });
    const spent = await ac.run(async () => 1, Deadline.after(0)).catch((e: unknown) => e);
    expect(spent).toMatchObject({ code: 'deadline_exceeded' });
    g.open();
    await holder;
    expect(ac.queueDepth).toBe(0);
  });

  it('shrinks its limit when calls time out and grows it back on fast successes', async () => {
    const timeout = Object.assign(new Error('canceling statement due to statement timeout'), { code: '57014' });
    const ac = new AdmissionController({
      dependency: 'db',
      limit: { initial: 8, min: 1, max: 8, latencyThresholdMs: 1_000 },
      maxQueueDepth: 10,
      maxQueueWaitMs: 100,
      isCongestion: (e) => (e as { code?: string }).code === '57014',
    });
    for (let i = 0; i < 60; i++) await ac.run(() => Promise.reject(timeout)).catch(() => undefined);
    expect(ac.limit).toBeLessThan(4);
    const shrunk = ac.limit;
    for (let round = 0; round < 50; round++) {
      await Promise.all(Array.from({ length: ac.limit }, () => ac.run(() => sleep(1))));
    }
    expect(ac.limit).toBeGreaterThan(shrunk);
  });

  it('computes Retry-After from how fast the queue drains', async () => {
    let now = 0;
    const ac = new AdmissionController({
      dependency: 'db',
      limit: { ...limit, initial: 1, max: 1 },
      maxQueueDepth: 100,
      maxQueueWaitMs: 1_000,
      clock: () => now,
    });
    for (let i = 0; i < 20; i++) {
      now += 10; // one completion every 10 ms: 100/s
      await ac.run(async () => undefined);
    }
    expect(ac.retryAfterMs()).toBeGreaterThanOrEqual(100);
    expect(ac.retryAfterMs()).toBeLessThan(200);
  });
});
