import { Registry } from 'prom-client';
import { SingleFlight } from './single-flight';

describe('SingleFlight', () => {
  it('runs identical concurrent calls once and shares the result; a later call runs again', async () => {
    const registry = new Registry();
    const flight = new SingleFlight<number>('read', registry);
    let runs = 0;
    let release!: (v: number) => void;
    const fn = () => {
      runs++;
      return new Promise<number>((r) => (release = r));
    };
    const calls = [flight.do('k', fn), flight.do('k', fn), flight.do('k', fn)];
    expect(flight.size).toBe(1);
    release(42);
    expect(await Promise.all(calls)).toEqual([42, 42, 42]);
    expect(runs).toBe(1);
    expect(flight.size).toBe(0);
    const again = flight.do('k', async () => 7);
    expect(await again).toBe(7);
    expect(await registry.getSingleMetricAsString('sluice_singleflight_coalesced_total')).toContain('operation="read"} 2');
  });

  it('keeps different keys apart and shares a failure with every caller of that flight', async () => {
    const flight = new SingleFlight<string>('read');
    const boom = new Error('boom');
    const a = flight.do('a', () => Promise.reject(boom));
    const a2 = flight.do('a', () => Promise.resolve('never'));
    const b = flight.do('b', async () => 'b');
    await expect(a).rejects.toBe(boom);
    await expect(a2).rejects.toBe(boom);
    expect(await b).toBe('b');
  });
});
