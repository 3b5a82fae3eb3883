import { capacity, LIMITS, median } from './capacity';
import { CLASS_ORDER } from './cpu';
import type { BuildRound, StepResult } from './run';
import { renderChart, type Series } from './svg';

export type Table = { header: string[]; rows: (string | number)[][] };

const r1 = (n: number) => (Number.isFinite(n) ? Number(n.toFixed(1)) : '–');
const r3 = (n: number) => (Number.isFinite(n) ? Number(n.toFixed(3)) : '–');

export function markdownTable({ header, rows }: Table): string {
  const line = (cells: (string | number)[]) => `| ${cells.map(String).join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

/** CPU per deposit (per second for the idle step) of every class in a step. */
export function perUnit(step: StepResult): Record<string, number> {
  const unit = step.offered > 0 ? step.ok : step.windowSec;
  return Object.fromEntries(Object.entries(step.cpuMs).map(([k, v]) => [k, unit > 0 ? v / unit : NaN]));
}

/**
 * The platform's CPU per deposit beyond what it spends idle over the same
 * window: what a deposit adds, apart from the fixed cost per second (polls,
 * heartbeats, metrics) that dominates at low rates.
 */
export function aboveIdle(step: StepResult, idle: StepResult): number {
  return step.ok > 0 ? step.platformCpuPerUnit - (idle.platformCpuPerUnit * step.windowSec) / step.ok : NaN;
}

/** One build round's steps: rates, latencies (ms), hops (p50/p99 ms), errors and CPU per deposit. */
export function stepsTable(run: BuildRound): Table {
  const all = [...run.steps, ...(run.half ? [run.half] : [])];
  return {
    header: [
      'offered/s',
      'accepted/s',
      'API p50',
      'API p99',
      'visible p50',
      'visible p99',
      'commit→Kafka p50/p99',
      'Kafka→applied p50/p99',
      'applied→visible p50/p99',
      'followed',
      'errors',
      'platform CPU ms/dep',
      'above idle ms/dep',
      'machine CPU ms/dep',
      'pass',
    ],
    rows: all.map((s) => [
      s.label,
      Math.round(s.acceptedPerSec),
      r1(s.apiP50),
      r1(s.apiP99),
      r1(s.visibleP50),
      r1(s.visibleP99),
      `${r1(s.hops.commitToKafka[0])} / ${r1(s.hops.commitToKafka[1])}`,
      `${r1(s.hops.kafkaToApplied[0])} / ${r1(s.hops.kafkaToApplied[1])}`,
      `${r1(s.hops.appliedToVisible[0])} / ${r1(s.hops.appliedToVisible[1])}`,
      s.followed,
      Object.entries(s.errors)
        .map(([k, v]) => `${k}: ${v}`)
        .join(', ') || 'none',
      r3(s.platformCpuPerUnit),
      r3(aboveIdle(s, run.idle)),
      r3(s.machineCpuPerUnit),
      s.pass ? 'yes' : `no (${s.reasons.join('; ')})`,
    ]),
  };
}

/**
 * CPU of every process class: ms per second in the idle step, ms per
 * deposit in the others, each the median over the build's rounds.
 */
export function cpuTable(runs: readonly BuildRound[]): Table {
  // Every rate any round reached (a round may stop early), in rising order.
  const rates = [...new Set(runs.flatMap((run) => run.steps.map((s) => s.label)))].sort((a, b) => Number(a) - Number(b));
  const withHalf = runs.find((run) => run.half);
  const labels = ['idle', ...rates, ...(withHalf ? ['half'] : [])];
  const stepOf = (run: BuildRound, label: string): StepResult | undefined =>
    label === 'idle' ? run.idle : label === 'half' ? run.half : run.steps.find((s) => s.label === label);
  const value = (label: string, f: (s: StepResult) => number) =>
    median(runs.map((run) => stepOf(run, label)).map((s) => (s ? f(s) : NaN)));
  const seen = new Set(runs.flatMap((run) => [run.idle, ...run.steps].flatMap((s) => Object.keys(s.cpuMs))));
  const classes = [
    ...CLASS_ORDER.filter((c) => seen.has(c)),
    ...[...seen].filter((c) => !(CLASS_ORDER as readonly string[]).includes(c)),
  ];
  const halfLabel = withHalf?.half ? `half (${withHalf.half.offered}/s) ms/dep` : undefined;
  return {
    header: ['process', 'idle ms/s', ...rates.map((r) => `${r}/s ms/dep`), ...(halfLabel ? [halfLabel] : [])],
    rows: [
      ...classes.map((c) => [c, ...labels.map((l) => r3(value(l, (s) => perUnit(s)[c] ?? 0)))]),
      ['**platform (all but generator)**', ...labels.map((l) => r3(value(l, (s) => s.platformCpuPerUnit)))],
      ['**machine (/proc/stat)**', ...labels.map((l) => r3(value(l, (s) => s.machineCpuPerUnit)))],
    ],
  };
}

/** A build's capacity per round and its median. */
export function buildCapacity(runs: readonly BuildRound[]): { rounds: number[]; median: number } {
  const rounds = runs.map((r) => capacity(r.steps).capacity);
  return { rounds, median: median(rounds) };
}

/** This build against the baseline, rate by rate: medians over rounds and the ratio this / baseline. */
export function comparisonTable(current: readonly BuildRound[], baseline: readonly BuildRound[], name = 'baseline'): Table {
  const labels = [...new Set([...current, ...baseline].flatMap((r) => r.steps.map((s) => s.label)))].sort(
    (a, b) => Number(a) - Number(b),
  );
  const m = (runs: readonly BuildRound[], label: string, f: (s: StepResult) => number) =>
    median(runs.map((r) => r.steps.find((s) => s.label === label)).map((s) => (s ? f(s) : NaN)));
  const row = (name: string, f: (s: StepResult) => number, digits: (n: number) => number | string) =>
    labels.map((l) => {
      const a = m(current, l, f);
      const b = m(baseline, l, f);
      return [`${l}/s ${name}`, digits(a), digits(b), r3(a / b)];
    });
  const halves = (runs: readonly BuildRound[]) => median(runs.map((r) => r.half?.platformCpuPerUnit ?? NaN));
  const capA = buildCapacity(current).median;
  const capB = buildCapacity(baseline).median;
  return {
    header: ['measure', 'this build', name, `this / ${name}`],
    rows: [
      ['capacity (deposits/s)', capA, capB, r3(capA / capB)],
      ['platform CPU ms/dep at half capacity', r3(halves(current)), r3(halves(baseline)), r3(halves(current) / halves(baseline))],
      ...row('accepted/s', (s) => s.acceptedPerSec, r1),
      ...row('API p99 ms', (s) => s.apiP99, r1),
      ...row('visible p99 ms', (s) => s.visibleP99, r1),
      ...row('platform CPU ms/dep', (s) => s.platformCpuPerUnit, r3),
    ],
  };
}

/** Latency and CPU against offered rate, each build's median over rounds. */
export function chart(builds: readonly { name: string; runs: readonly BuildRound[] }[]): string {
  const points = (runs: readonly BuildRound[], f: (s: StepResult) => number) => {
    const labels = [...new Set(runs.flatMap((r) => r.steps.map((s) => s.label)))];
    return labels.map((l) => ({
      x: Number(l),
      y: median(runs.map((r) => r.steps.find((s) => s.label === l)).map((s) => (s ? f(s) : NaN))),
    }));
  };
  const latency: Series[] = [];
  const cpu: Series[] = [];
  builds.forEach((b, i) => {
    const dashed = i > 0;
    latency.push(
      { name: `${b.name}: API p99`, points: points(b.runs, (s) => s.apiP99), dashed },
      { name: `${b.name}: visible p99`, points: points(b.runs, (s) => s.visibleP99), dashed },
    );
    cpu.push(
      { name: `${b.name}: platform`, points: points(b.runs, (s) => s.platformCpuPerUnit), dashed },
      { name: `${b.name}: machine`, points: points(b.runs, (s) => s.machineCpuPerUnit), dashed },
    );
  });
  return renderChart('Sluice platform: latency and CPU per deposit against offered rate', 'offered deposits/s', [
    {
      yLabel: 'p99 latency (ms)',
      series: latency,
      marks: [
        { y: LIMITS.apiP99Ms, label: `API target ${LIMITS.apiP99Ms} ms` },
        { y: LIMITS.visibleP99Ms, label: `visible target ${LIMITS.visibleP99Ms} ms` },
      ],
    },
    { yLabel: 'CPU ms per deposit', series: cpu },
  ]);
}
