import { aboveIdle, cpuTable, markdownTable } from './report';
import type { StepResult } from './run';

const step = (over: Partial<StepResult>): StepResult => ({ ok: 0, windowSec: 10, platformCpuPerUnit: 0, ...over }) as StepResult;

describe('platform bench report', () => {
  it('takes the idle platform’s CPU over the step’s window out of its CPU per deposit', () => {
    // 300 ms/s idle over a 10 s window is 3,000 ms; 1,000 deposits at 5 ms each are 5,000 ms in all.
    expect(aboveIdle(step({ ok: 1_000, platformCpuPerUnit: 5 }), step({ platformCpuPerUnit: 300 }))).toBe(2);
    expect(aboveIdle(step({ ok: 0 }), step({ platformCpuPerUnit: 300 }))).toBeNaN();
  });

  it('writes a Markdown table with a separator row', () => {
    expect(markdownTable({ header: ['a', 'b'], rows: [[1, 'x']] })).toBe('| a | b |\n| --- | --- |\n| 1 | x |');
  });
});

describe('platform bench CPU table', () => {
  it('has a column for every rate any round reached, a round that stopped early leaving its cells out of the median', () => {
    const s = (label: string, perDep: number): StepResult =>
      ({
        label,
        offered: Number(label) || 0,
        ok: 100,
        windowSec: 10,
        cpuMs: { 'command-api': perDep * 100 },
        platformCpuPerUnit: perDep,
        machineCpuPerUnit: perDep,
      }) as unknown as StepResult;
    const round = (steps: StepResult[]) => ({
      build: 'b',
      root: '/',
      round: 1,
      machineBusyBefore: 50,
      idle: s('idle', 0),
      steps,
      half: undefined,
    });
    const t = cpuTable([round([s('50', 2)]), round([s('50', 4), s('100', 1)])]);
    expect(t.header).toEqual(['process', 'idle ms/s', '50/s ms/dep', '100/s ms/dep']);
    expect(t.rows[0]).toEqual(['command-api', 0, 3, 1]);
  });
});
