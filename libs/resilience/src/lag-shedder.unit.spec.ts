import { Registry } from 'prom-client';
import { ResilienceError } from './errors';
import { LagShedder } from './lag-shedder';

const MiB = 1024 * 1024;

describe('LagShedder', () => {
  const thresholds = { relayLagBytes: 64 * MiB, retainedWalBytes: 1024 * MiB };

  it('admits everything below the thresholds', () => {
    const shedder = new LagShedder({ probe: async () => undefined, thresholds, intervalMs: 1000, random: () => 0 });
    shedder.update({ relayLagBytes: 10 * MiB, retainedWalBytes: 100 * MiB });
    expect(shedder.shedRatio().ratio).toBe(0);
    expect(() => shedder.admit()).not.toThrow();
  });

  it('sheds a share growing with the overshoot, all of it at twice the threshold, naming the reason', async () => {
    let roll = 0.4;
    const registry = new Registry();
    const shedder = new LagShedder({ probe: async () => undefined, thresholds, intervalMs: 1000, random: () => roll, registry });
    shedder.update({ relayLagBytes: 96 * MiB, retainedWalBytes: 0 });
    expect(shedder.shedRatio()).toEqual({ ratio: 0.5, reason: 'relay_lag' });
    let err: unknown;
    try {
      shedder.admit();
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ResilienceError);
    expect(err).toMatchObject({ code: 'load_shed', retryAfterMs: 2000, details: { reason: 'relay_lag' } });
    roll = 0.6;
    expect(() => shedder.admit()).not.toThrow();
    shedder.update({ relayLagBytes: 0, retainedWalBytes: 4096 * MiB });
    roll = 0.999;
    expect(shedder.shedRatio()).toEqual({ ratio: 1, reason: 'retained_wal' });
    expect(() => shedder.admit()).toThrow(ResilienceError);
    const metric = await registry.getSingleMetricAsString('sluice_backpressure_drops_total');
    expect(metric).toContain('stage="lag",reason="relay_lag"} 1');
    expect(metric).toContain('stage="lag",reason="retained_wal"} 1');
  });

  it('reads the probe on a timer and keeps the last reading when a probe fails', async () => {
    jest.useFakeTimers();
    try {
      const readings = [{ relayLagBytes: 1, retainedWalBytes: 2 }, new Error('down'), { relayLagBytes: 3, retainedWalBytes: 4 }];
      let calls = 0;
      const errors: unknown[] = [];
      const shedder = new LagShedder({
        probe: async () => {
          const r = readings[calls++];
          if (r instanceof Error) throw r;
          return r;
        },
        thresholds,
        intervalMs: 500,
        onProbeError: (e) => errors.push(e),
      });
      await shedder.start();
      expect(shedder.current).toEqual({ relayLagBytes: 1, retainedWalBytes: 2 });
      await jest.advanceTimersByTimeAsync(500);
      expect(shedder.current).toEqual({ relayLagBytes: 1, retainedWalBytes: 2 });
      expect(errors).toHaveLength(1);
      await jest.advanceTimersByTimeAsync(500);
      expect(shedder.current).toEqual({ relayLagBytes: 3, retainedWalBytes: 4 });
      shedder.stop();
    } finally {
      jest.useRealTimers();
    }
  });
});
