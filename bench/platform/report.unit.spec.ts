import { aboveIdle, markdownTable } from './report';
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
