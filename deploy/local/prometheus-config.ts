import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { env, loadConfig, z } from '@sluice/config';
import { platformScrapeJobs, renderPrometheusConfig, type PrometheusSettings, type ScrapeJob } from '@sluice/platform';
import { localServices } from './services';

/**
 * Writes the local Prometheus's configuration (deploy/local/prometheus.sh runs it):
 *   node dist/deploy/local/prometheus-config.js <prometheus dir> <rules dir>   → <prometheus dir>/prometheus.yml
 * Unless PROMETHEUS_TARGETS says otherwise, it scrapes every process the supervisor runs (the same
 * description, SLUICE_REPLICAS of each scalable service).
 */
export const localPrometheusEnv = z.object({
  PROMETHEUS_LISTEN: z.string().default('127.0.0.1:9090'),
  /** job=host:port list; unset: every local process, as its service's job. */
  PROMETHEUS_TARGETS: env.list(''),
  /** The schema registry's host:port, scraped as job "registry" (Apicurio serves /metrics; Kafka has none). Empty: not scraped. */
  PROMETHEUS_REGISTRY: z.string().default('127.0.0.1:8085'),
  /** The edge's refusal counter (mtail beside nginx, deploy/local/edge.sh), scraped as job "edge". Empty: not scraped. */
  PROMETHEUS_EDGE: z.string().default('127.0.0.1:3903'),
  PROMETHEUS_SCRAPE_INTERVAL_SECONDS: env.int(5, 1, 300),
  PROMETHEUS_EVALUATION_INTERVAL_SECONDS: env.int(15, 1, 300),
  SLUICE_REPLICAS: z.string().optional(),
});

/** `job=host:port` entries grouped by job, in the order given. */
export function parseScrapeTargets(entries: readonly string[]): ScrapeJob[] {
  const jobs = new Map<string, string[]>();
  for (const entry of entries) {
    const at = entry.indexOf('=');
    if (at <= 0 || at === entry.length - 1) throw new RangeError(`PROMETHEUS_TARGETS entry ${entry} is not job=host:port`);
    const job = entry.slice(0, at);
    jobs.set(job, [...(jobs.get(job) ?? []), entry.slice(at + 1)]);
  }
  return [...jobs].map(([job, targets]) => ({ job, targets }));
}

export function localPrometheusSettings(config: z.infer<typeof localPrometheusEnv>, rulesDir: string): PrometheusSettings {
  const services =
    config.PROMETHEUS_TARGETS.length > 0
      ? parseScrapeTargets(config.PROMETHEUS_TARGETS)
      : platformScrapeJobs(localServices({ SLUICE_REPLICAS: config.SLUICE_REPLICAS }));
  const registry = config.PROMETHEUS_REGISTRY === '' ? [] : [{ job: 'registry', targets: [config.PROMETHEUS_REGISTRY] }];
  const edge = config.PROMETHEUS_EDGE === '' ? [] : [{ job: 'edge', targets: [config.PROMETHEUS_EDGE] }];
  return {
    listen: config.PROMETHEUS_LISTEN,
    jobs: [...services, ...edge, ...registry],
    ruleFiles: [join(rulesDir, '*.yml')],
    scrapeIntervalSeconds: config.PROMETHEUS_SCRAPE_INTERVAL_SECONDS,
    evaluationIntervalSeconds: config.PROMETHEUS_EVALUATION_INTERVAL_SECONDS,
  };
}

if (require.main === module) {
  const dir = resolve(process.argv[2] ?? '.run/prometheus');
  const rulesDir = resolve(process.argv[3] ?? 'deploy/prometheus/rules');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'prometheus.yml');
  writeFileSync(file, renderPrometheusConfig(localPrometheusSettings(loadConfig(localPrometheusEnv), rulesDir)));
  process.stdout.write(`${file}\n`);
}
