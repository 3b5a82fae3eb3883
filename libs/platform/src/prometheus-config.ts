import type { PlatformProcess } from './layout';

/** One scrape job: its `job` label and the host:port of each instance whose /metrics it reads (`instance` is that address). */
export interface ScrapeJob {
  job: string;
  targets: readonly string[];
}

/** What a Prometheus of the platform scrapes and evaluates. */
export interface PrometheusSettings {
  /** host:port Prometheus listens on; it scrapes itself there as job "prometheus". */
  listen: string;
  jobs: readonly ScrapeJob[];
  /** Prometheus's rule_files: paths, globs allowed (deploy/prometheus/rules/*.yml). */
  ruleFiles: readonly string[];
  scrapeIntervalSeconds: number;
  evaluationIntervalSeconds: number;
}

/** The job Prometheus scrapes itself as. */
export const PROMETHEUS_SELF_JOB = 'prometheus';

/**
 * One job per service, named as in PLATFORM_SERVICES, with one target per
 * process: the alert rules select on job="command-api" and count replicas as
 * instances of that job, never as jobs of their own (command-api-2).
 */
export function platformScrapeJobs(processes: readonly PlatformProcess[], host = '127.0.0.1'): ScrapeJob[] {
  const jobs = new Map<string, string[]>();
  for (const p of processes) {
    const targets = jobs.get(p.service.name) ?? [];
    targets.push(`${host}:${p.port}`);
    jobs.set(p.service.name, targets);
  }
  return [...jobs].map(([job, targets]) => ({ job, targets }));
}

const ADDRESS = /^(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:]+\]):\d{1,5}$/;
const JOB_NAME = /^[A-Za-z_][A-Za-z0-9_.-]*$/;

function problemsOf(s: PrometheusSettings): string[] {
  const problems: string[] = [];
  if (!ADDRESS.test(s.listen)) problems.push(`listen ${s.listen} is not host:port`);
  const seen = new Set([PROMETHEUS_SELF_JOB]);
  for (const { job, targets } of s.jobs) {
    if (!JOB_NAME.test(job)) problems.push(`job name ${job} is not [A-Za-z_][A-Za-z0-9_.-]*`);
    if (seen.has(job)) problems.push(`job ${job} is named twice (or is the self job)`);
    seen.add(job);
    if (targets.length === 0) problems.push(`job ${job} has no targets`);
    for (const t of targets) if (!ADDRESS.test(t)) problems.push(`target ${t} of job ${job} is not host:port`);
  }
  for (const [name, seconds] of [
    ['scrape interval', s.scrapeIntervalSeconds],
    ['evaluation interval', s.evaluationIntervalSeconds],
  ] as const) {
    if (!Number.isInteger(seconds) || seconds < 1) problems.push(`${name} must be a whole number of seconds ≥ 1, got ${seconds}`);
  }
  return problems;
}

/**
 * prometheus.yml for the settings. Every string is written as a JSON string,
 * which YAML reads as the same double-quoted scalar, so no path or address
 * can change the document's structure. Scrapes time out at the interval
 * (Prometheus refuses a longer timeout).
 */
export function renderPrometheusConfig(s: PrometheusSettings): string {
  const problems = problemsOf(s);
  if (problems.length > 0) throw new RangeError(`invalid Prometheus settings: ${problems.join('; ')}`);
  const q = (v: string) => JSON.stringify(v);
  const job = (name: string, targets: readonly string[]) => [
    `  - job_name: ${q(name)}`,
    '    static_configs:',
    `      - targets: [${targets.map(q).join(', ')}]`,
  ];
  return `${[
    '# Rendered from libs/platform (renderPrometheusConfig); edits are overwritten at the next start.',
    'global:',
    `  scrape_interval: ${s.scrapeIntervalSeconds}s`,
    `  scrape_timeout: ${s.scrapeIntervalSeconds}s`,
    `  evaluation_interval: ${s.evaluationIntervalSeconds}s`,
    'rule_files:',
    ...s.ruleFiles.map((f) => `  - ${q(f)}`),
    'scrape_configs:',
    ...job(PROMETHEUS_SELF_JOB, [s.listen]),
    ...s.jobs.flatMap((j) => job(j.job, j.targets)),
  ].join('\n')}\n`;
}
