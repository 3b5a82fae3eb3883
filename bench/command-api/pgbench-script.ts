/**
 * deposit.pgbench.sql with its statements grouped into pipelines the way the
 * command API's pipelined pool sends them: BEGIN and SET LOCAL together, the
 * claim-and-load alone (pgbench cannot \gset inside a pipeline; the API sends
 * BEGIN with it), then the save and COMMIT together.
 */
export function pipelinedScript(script: string): string {
  const lines = script.split('\n');
  const at = (test: (line: string) => boolean, what: string) => {
    const i = lines.findIndex(test);
    if (i < 0) throw new Error(`deposit.pgbench.sql has no ${what} line`);
    return i;
  };
  const begin = at((l) => l === 'BEGIN;', 'BEGIN');
  const setLocal = at((l) => l.startsWith('SET LOCAL '), 'SET LOCAL');
  const save = at((l) => l.startsWith('WITH w_0 AS'), 'save statement');
  const commit = at((l) => l === 'COMMIT;', 'COMMIT');
  if (!(begin < setLocal && setLocal < save && save < commit))
    throw new Error('deposit.pgbench.sql is not in the expected order');
  const out = [...lines];
  out.splice(commit + 1, 0, '\\endpipeline');
  out.splice(save, 0, '\\startpipeline');
  out.splice(setLocal + 1, 0, '\\endpipeline');
  out.splice(begin, 0, '\\startpipeline');
  return out.join('\n');
}
