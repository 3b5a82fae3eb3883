import { formatEta, RateMeter, renderProgress } from './progress-bar';

describe('rebuild progress bar', () => {
  it('given half the events applied at 25,000/s, then the bar is half full and the ETA is the rest at that rate', () => {
    expect(renderProgress({ label: 'wallet v2', applied: 500_000, total: 1_000_000, rate: 25_000 }, 10)).toBe(
      'wallet v2 [█████░░░░░]  50.0%  500,000/1,000,000 events  25,000 ev/s  ETA 0:20',
    );
  });

  it('given nothing measured yet, then no ETA is claimed', () => {
    expect(renderProgress({ label: 'x', applied: 0, total: 10, rate: 0 }, 4)).toContain('ETA --:--');
  });

  it('given everything applied, then a full bar and no time left', () => {
    expect(renderProgress({ label: 'x', applied: 12, total: 10, rate: 5 }, 4)).toContain('[████] 100.0%');
    expect(renderProgress({ label: 'x', applied: 12, total: 10, rate: 5 }, 4)).toContain('ETA 0:00');
  });

  it('formats hours, minutes and seconds', () => {
    expect(formatEta(75)).toBe('1:15');
    expect(formatEta(3_725)).toBe('1:02:05');
    expect(formatEta(Number.POSITIVE_INFINITY)).toBe('--:--');
  });

  it('smooths the rate between observations', () => {
    const meter = new RateMeter(0.5);
    meter.observe(0, 0);
    expect(meter.observe(1_000, 1_000)).toBe(1_000);
    expect(meter.observe(4_000, 2_000)).toBe(2_000);
  });
});
