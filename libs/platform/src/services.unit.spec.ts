import { applyCpuClass, BACKGROUND_NICENESS, PLATFORM_SERVICES } from './services';

const service = (name: string) => PLATFORM_SERVICES.find((s) => s.name === name)!;

describe('applyCpuClass', () => {
  it('lowers background processes only, and only while SLUICE_CPU_CLASSES is not off', () => {
    const calls: [number, number][] = [];
    const set = (pid: number, priority: number) => calls.push([pid, priority]);
    expect(applyCpuClass(11, service('projector'), {}, set)).toBe(BACKGROUND_NICENESS);
    expect(applyCpuClass(12, service('command-api'), {}, set)).toBeUndefined();
    expect(applyCpuClass(13, service('query-api'), { SLUICE_CPU_CLASSES: 'on' }, set)).toBeUndefined();
    expect(applyCpuClass(14, service('payments-worker'), { SLUICE_CPU_CLASSES: 'off' }, set)).toBeUndefined();
    expect(applyCpuClass(undefined, service('bonus-service'), {}, set)).toBeUndefined();
    expect(calls).toEqual([[11, BACKGROUND_NICENESS]]);
  });

  it('refuses a setting it does not know rather than running unclassed', () => {
    expect(() => applyCpuClass(1, service('projector'), { SLUICE_CPU_CLASSES: 'yes' }, () => {})).toThrow(
      /SLUICE_CPU_CLASSES must be on or off, got yes/,
    );
  });

  it('keeps the APIs in front and every consumer behind them', () => {
    const front = PLATFORM_SERVICES.filter((s) => s.cpu === 'front').map((s) => s.name);
    expect(front.sort()).toEqual(['command-api', 'query-api']);
  });
});
