import { classifyBackend, CpuWindow, parseMachineStat, parseProcStat, platformTotal, type ProcStat } from './cpu';

describe('CPU accounting', () => {
  it('reads utime+stime, the ended children and the start time from /proc/<pid>/stat, whatever the command name', () => {
    const fields = ['S', ...Array.from({ length: 10 }, () => '0'), '150', '50', '7', '3', '20', '0', '1', '0', '12345', '0'];
    expect(parseProcStat(`42 (node (main) x) ${fields.join(' ')}`)).toEqual({
      comm: 'node (main) x',
      ticks: 200,
      childTicks: 10,
      startTicks: 12345,
    });
  });

  it('counts the machine busy as everything but idle and iowait', () => {
    expect(parseMachineStat('cpu  100 5 50 800 20 3 2 1 0 0\ncpu0 1 2 3\n')).toEqual({ busy: 161, total: 981 });
  });

  it('classifies backends by what they serve, and other databases apart', () => {
    const b = (applicationName: string, backendType = 'client backend', datname: string | null = 'bench_db') =>
      classifyBackend({ pid: 1, datname, applicationName, backendType }, 'bench_db');
    expect(b('sluice-command-api')).toBe('pg command-api');
    expect(b('sluice-outbox-relay', 'walsender')).toBe('pg walsender (relay)');
    expect(b('sluice-outbox-relay-leader')).toBe('pg relay');
    expect(b('sluice-query-api-listen')).toBe('pg query-api');
    expect(b('sluice-projector')).toBe('pg projector');
    expect(b('sluice-payments-worker')).toBe('pg payments-worker');
    expect(b('', 'autovacuum worker')).toBe('pg autovacuum');
    expect(b('', 'checkpointer', null)).toBe('pg checkpointer/bgwriter/walwriter');
    expect(b('sluice-command-api', 'client backend', 'sluice')).toBe('pg other databases');
    expect(b('', 'client backend', 'sluice_registry')).toBe('pg registry');
    expect(b('sluice-bench')).toBe('pg bench');
  });

  it('sums CPU per class over a window: moved-on processes by their difference, ones born inside it in full', () => {
    const stats = new Map<number, ProcStat>([
      [1, { comm: 'node', ticks: 100, childTicks: 0, startTicks: 10 }],
      [2, { comm: 'postgres', ticks: 40, childTicks: 0, startTicks: 10 }],
    ]);
    const w = new CpuWindow((pid) => stats.get(pid));
    w.open(
      new Map([
        [1, 'command-api'],
        [2, 'pg command-api'],
      ]),
      1_000,
    );
    stats.set(1, { comm: 'node', ticks: 150, childTicks: 0, startTicks: 10 });
    stats.set(3, { comm: 'postgres', ticks: 5, childTicks: 0, startTicks: 1_200 }); // a backend started in the window
    stats.set(4, { comm: 'java', ticks: 900, childTicks: 0, startTicks: 10 }); // seen first mid-window: counted from then
    const now = new Map([
      [1, 'command-api'],
      [2, 'pg command-api'],
      [3, 'pg command-api'],
      [4, 'kafka broker'],
      [5, 'generator'], // gone: nothing to read
    ]);
    w.sample(now);
    stats.set(2, { comm: 'postgres', ticks: 42, childTicks: 0, startTicks: 10 });
    stats.set(4, { comm: 'java', ticks: 910, childTicks: 0, startTicks: 10 });
    stats.delete(3); // ended: its last reading stands
    const ms = w.close(now);
    expect(Object.fromEntries(ms)).toEqual({ 'command-api': 500, 'pg command-api': 70, 'kafka broker': 100 });
    expect(platformTotal(new Map([...ms, ['generator', 1_000]]))).toBe(670);
  });
});
