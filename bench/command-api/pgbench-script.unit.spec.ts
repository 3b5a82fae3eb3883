import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pipelinedScript } from './pgbench-script';

describe('pgbench deposit script, pipelined', () => {
  const source = readFileSync(join(__dirname, 'deposit.pgbench.sql'), 'utf8');

  it('groups BEGIN with SET LOCAL, and the save with the outbox delete and COMMIT, leaving the claim-and-load (\\gset) alone', () => {
    const lines = pipelinedScript(source).split('\n');
    const index = (test: (line: string) => boolean) => lines.findIndex(test);
    const starts = lines.flatMap((l, i) => (l === '\\startpipeline' ? [i] : []));
    const ends = lines.flatMap((l, i) => (l === '\\endpipeline' ? [i] : []));
    expect(starts).toHaveLength(2);
    expect(ends).toHaveLength(2);
    expect(lines[starts[0]! + 1]).toBe('BEGIN;');
    expect(lines[ends[0]! - 1]).toMatch(/^SET LOCAL statement_timeout/);
    const gset = index((l) => l === '\\gset');
    expect(gset).toBeGreaterThan(ends[0]!);
    expect(gset).toBeLessThan(starts[1]!);
    expect(lines[starts[1]! + 1]).toMatch(/^WITH w_0 AS/);
    expect(lines[ends[1]! - 1]).toBe('COMMIT;');
    // Nothing else changes: the same statements, in the same order.
    expect(lines.filter((l) => !l.endsWith('pipeline')).join('\n')).toBe(source);
  });

  it('refuses a script it does not recognise rather than guess', () => {
    expect(() => pipelinedScript(source.replace('COMMIT;', 'END;'))).toThrow('no COMMIT line');
  });
});
