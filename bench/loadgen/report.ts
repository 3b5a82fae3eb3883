import type { Recorder } from './recorder';
import { summarizeLatencies } from './recorder';
import { extent, printTable } from '../stats';

const is2xx = (status: number) => status >= 200 && status < 300;

/** The standard report of a run: latency by phase (all and 2xx), status counts, generator lag. */
export function reportRun(title: string, rec: Recorder): Record<string, unknown> {
  const phases = [...new Set(rec.samples.map((s) => s.phase))];
  const rows = phases.flatMap((phase) => {
    const inPhase = rec.filter((s) => s.phase === phase);
    const { min: first, max: last } = extent(inPhase.map((s) => s.intendedAt));
    const seconds = Math.max(0.001, (last - first) / 1000);
    const ok = inPhase.filter((s) => is2xx(s.status));
    const all = summarizeLatencies(inPhase.map((s) => s.latencyMs));
    const good = summarizeLatencies(ok.map((s) => s.latencyMs));
    return [
      [phase, 'all', inPhase.length, Math.round(inPhase.length / seconds), all.p50, all.p95, all.p99, all.max],
      [phase, '2xx', ok.length, Math.round(ok.length / seconds), good.p50, good.p95, good.p99, good.max],
    ];
  });
  printTable(
    `${title}: latency from intended send time (ms)`,
    ['phase', 'responses', 'n', 'per s', 'p50', 'p95', 'p99', 'max'],
    rows,
  );
  const statuses = rec.statusCounts();
  printTable(
    `${title}: responses by status`,
    ['status', 'count'],
    Object.entries(statuses).map(([k, v]) => [k, v]),
  );
  const codes = rec.errorCodes();
  if (Object.keys(codes).length > 0) {
    printTable(
      `${title}: error responses by problem code`,
      ['status and code', 'count'],
      Object.entries(codes).map(([k, v]) => [k, v]),
    );
  }
  const lag = summarizeLatencies(rec.sendLag);
  console.log(`\ngenerator send lag (ms): p50 ${lag.p50.toFixed(2)}  p99 ${lag.p99.toFixed(2)}  max ${lag.max.toFixed(2)}`);
  return {
    phases: Object.fromEntries(
      phases.map((phase) => [
        phase,
        {
          all: rec.latency((s) => s.phase === phase),
          ok: rec.latency((s) => s.phase === phase && is2xx(s.status)),
          statuses: rec.statusCounts((s) => s.phase === phase),
        },
      ]),
    ),
    statuses,
    errorCodes: codes,
    sendLagMs: lag,
    timeline: rec.timeline(),
  };
}
