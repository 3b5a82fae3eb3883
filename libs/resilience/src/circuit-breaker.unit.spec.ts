import { Registry } from 'prom-client';
import { CircuitBreaker, CircuitOpenError, type CircuitTransition } from './circuit-breaker';

const fail = () => Promise.reject(new Error('provider 503'));
const ok = () => Promise.resolve('ok');

function breaker(now: { t: number }, registry?: Registry, changes: CircuitTransition[] = []) {
  return new CircuitBreaker({
    dependency: 'psp',
    failureRateThreshold: 0.5,
    minimumCalls: 4,
    windowMs: 10_000,
    openMs: 5_000,
    isFailure: (err) => !(err instanceof Error && err.message === 'declined'),
    onStateChange: (c) => changes.push(c),
    clock: () => now.t,
    ...(registry && { registry }),
  });
}

describe('CircuitBreaker', () => {
  it('given a closed circuit, when fewer calls than the minimum fail, then it stays closed', async () => {
    const now = { t: 0 };
    const cb = breaker(now);
    for (let i = 0; i < 3; i++) await expect(cb.run(fail)).rejects.toThrow('provider 503');
    expect(cb.state).toBe('closed');
  });

  it('given a closed circuit, when the failure rate over the window reaches the threshold, then it opens and refuses calls at once', async () => {
    const now = { t: 0 };
    const registry = new Registry();
    const changes: CircuitTransition[] = [];
    const cb = breaker(now, registry, changes);
    await cb.run(ok);
    await cb.run(ok);
    await expect(cb.run(fail)).rejects.toThrow();
    expect(cb.state).toBe('closed');
    await expect(cb.run(fail)).rejects.toThrow();
    expect(cb.state).toBe('open');
    let called = false;
    const refused = await cb
      .run(async () => {
        called = true;
      })
      .catch((e: unknown) => e);
    expect(called).toBe(false);
    expect(refused).toBeInstanceOf(CircuitOpenError);
    expect(refused).toMatchObject({ code: 'circuit_open', retriable: true, retryAfterMs: 5_000 });
    expect(changes).toEqual([{ dependency: 'psp', from: 'closed', to: 'open', reason: '2 of 4 calls failed within 10000 ms' }]);
    const metrics = await registry.metrics();
    expect(metrics).toContain('sluice_circuit_transitions_total{dependency="psp",from="closed",to="open"} 1');
    expect(metrics).toContain('sluice_circuit_rejects_total{dependency="psp"} 1');
    expect(metrics).toContain('sluice_circuit_state{dependency="psp",state="open"} 1');
  });

  it('given failures older than the window, when a new one comes, then only the recent calls count', async () => {
    const now = { t: 0 };
    const cb = breaker(now);
    for (let i = 0; i < 3; i++) await cb.run(fail).catch(() => undefined);
    now.t = 20_000;
    await cb.run(ok);
    await cb.run(fail).catch(() => undefined);
    expect(cb.window()).toEqual({ calls: 2, failures: 1 });
    expect(cb.state).toBe('closed');
  });

  it('given errors the dependency answered on purpose (not failures), then they never open it', async () => {
    const now = { t: 0 };
    const cb = breaker(now);
    for (let i = 0; i < 10; i++) await cb.run(() => Promise.reject(new Error('declined'))).catch(() => undefined);
    expect(cb.state).toBe('closed');
  });

  it('given an open circuit, when openMs passed, then it is half-open, lets one trial through, and closes when it succeeds', async () => {
    const now = { t: 0 };
    const changes: CircuitTransition[] = [];
    const cb = breaker(now, undefined, changes);
    for (let i = 0; i < 4; i++) await cb.run(fail).catch(() => undefined);
    now.t = 4_999;
    expect(cb.allows()).toBe(false);
    expect(cb.retryAfterMs()).toBe(1);
    now.t = 5_000;
    expect(cb.state).toBe('half_open');
    expect(cb.allows()).toBe(true);
    let release!: () => void;
    const trial = cb.run(() => new Promise<string>((r) => (release = () => r('paid'))));
    expect(cb.allows()).toBe(false);
    await expect(cb.run(ok)).rejects.toBeInstanceOf(CircuitOpenError);
    release();
    expect(await trial).toBe('paid');
    expect(cb.state).toBe('closed');
    expect(cb.window()).toEqual({ calls: 0, failures: 0 });
    expect(changes.map((c) => `${c.from}->${c.to}`)).toEqual(['closed->open', 'open->half_open', 'half_open->closed']);
  });

  it('given a half-open circuit, when the trial fails, then it opens again for another openMs', async () => {
    const now = { t: 0 };
    const cb = breaker(now);
    for (let i = 0; i < 4; i++) await cb.run(fail).catch(() => undefined);
    now.t = 6_000;
    await expect(cb.run(fail)).rejects.toThrow('provider 503');
    expect(cb.state).toBe('open');
    now.t = 10_999;
    expect(cb.state).toBe('open');
    now.t = 11_000;
    expect(cb.state).toBe('half_open');
  });

  it('refuses settings that cannot work', () => {
    const base = { dependency: 'x', failureRateThreshold: 0.5, minimumCalls: 1, windowMs: 1, openMs: 1 };
    expect(() => new CircuitBreaker({ ...base, failureRateThreshold: 0 })).toThrow(RangeError);
    expect(() => new CircuitBreaker({ ...base, openMs: 0 })).toThrow(RangeError);
  });
});
