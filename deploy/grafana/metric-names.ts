import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The metric names a query may read, found in the source: every quoted `sluice_…` name of a
 * non-test file under libs/ and services/ (prom-client metrics are declared with literal names),
 * the series a histogram adds, prom-client's default process metrics, Prometheus's own `up`, and
 * the recording rules of deploy/prometheus/rules. A name a query reads that is not here is a
 * typo or a metric that was renamed or removed.
 */
export function knownMetricNames(root: string): Set<string> {
  const names = new Set<string>(['up']);
  for (const dir of ['libs', 'services']) {
    for (const file of sourceFiles(join(root, dir))) {
      for (const m of readFileSync(file, 'utf8').matchAll(/['"`](sluice_[a-z0-9_]+)['"`]/g)) {
        const name = m[1]!;
        for (const suffix of ['', '_bucket', '_sum', '_count']) names.add(name + suffix);
      }
    }
  }
  for (const name of DEFAULT_METRICS) names.add(name);
  const rulesDir = join(root, 'deploy/prometheus/rules');
  for (const file of readdirSync(rulesDir).filter((f) => f.endsWith('.yml'))) {
    for (const m of readFileSync(join(rulesDir, file), 'utf8').matchAll(/^\s*- record: (\S+)/gm)) names.add(m[1]!);
  }
  return names;
}

/** prom-client's default metrics that the dashboards and rules read (libs/observability collects them). */
const DEFAULT_METRICS = [
  'process_cpu_seconds_total',
  'process_resident_memory_bytes',
  'process_start_time_seconds',
  'nodejs_eventloop_lag_p99_seconds',
  'nodejs_heap_size_used_bytes',
];

function* sourceFiles(dir: string): Generator<string> {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (entry.name !== 'node_modules') yield* sourceFiles(path);
    } else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.spec.ts')) {
      yield path;
    }
  }
}

/**
 * The metric names a PromQL expression reads: identifiers with Sluice's, prom-client's or
 * Prometheus's prefixes, outside quoted label values. (Label names never carry these prefixes.)
 */
export function metricNamesIn(expr: string): string[] {
  const unquoted = expr.replace(/"(?:[^"\\]|\\.)*"/g, '""');
  return [
    ...new Set([...unquoted.matchAll(/\b(?:sluice[_:][a-z0-9_:]*|process_[a-z0-9_]+|nodejs_[a-z0-9_]+|up)\b/g)].map((m) => m[0])),
  ];
}

/** The `job` values an expression selects by equality. */
export const jobsIn = (expr: string): string[] => [...expr.matchAll(/\bjob="([^"]+)"/g)].map((m) => m[1]!);
