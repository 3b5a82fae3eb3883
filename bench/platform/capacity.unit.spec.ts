import { capacity, median, verdict } from './capacity';

const step = (over: Partial<Parameters<typeof verdict>[0]> = {}) => ({
  offered: 100,
  sent: 1000,
  ok: 1000,
  apiP99: 20,
  visibleP99: 100,
  invisible: 0,
  ...over,
});

describe('platform capacity', () => {
  it('passes a step with only 201s and both p99s within their targets', () => {
    expect(verdict(step())).toEqual({ pass: true, reasons: [] });
  });

  it('fails a step for any answer but 201, a slow API, a slow read model or a deposit never seen', () => {
    expect(verdict(step({ ok: 999 })).reasons).toEqual(['1 not 201']);
    expect(verdict(step({ apiP99: 50.5 })).pass).toBe(false);
    expect(verdict(step({ visibleP99: 251 })).pass).toBe(false);
    expect(verdict(step({ visibleP99: NaN })).pass).toBe(false);
    expect(verdict(step({ invisible: 1 })).pass).toBe(false);
  });

  it('is the highest step with every step below it passing, not a passing step above a failed one', () => {
    const steps = [
      { offered: 100, pass: true },
      { offered: 200, pass: true },
      { offered: 400, pass: false },
      { offered: 800, pass: true },
    ];
    expect(capacity(steps)).toEqual({ capacity: 200, highestPassing: 800 });
    expect(capacity([{ offered: 100, pass: false }])).toEqual({ capacity: 0, highestPassing: 0 });
  });

  it('takes medians over rounds, leaving out rounds without a figure', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, NaN, 2, 3])).toBe(2.5);
    expect(median([NaN])).toBeNaN();
  });
});
