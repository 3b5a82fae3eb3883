import { parse } from 'yaml';
import { platformProcesses } from './layout';
import { platformScrapeJobs, renderPrometheusConfig, type PrometheusSettings } from './prometheus-config';
import { PLATFORM_SERVICES } from './services';

interface RenderedConfig {
  global: Record<string, string>;
  rule_files: string[];
  scrape_configs: { job_name: string; static_configs: { targets: string[] }[] }[];
}

const settings = (over: Partial<PrometheusSettings> = {}): PrometheusSettings => ({
  listen: '127.0.0.1:9090',
  jobs: platformScrapeJobs(platformProcesses()),
  ruleFiles: ['/srv/sluice/deploy/prometheus/rules/*.yml'],
  scrapeIntervalSeconds: 5,
  evaluationIntervalSeconds: 15,
  ...over,
});

const rendered = (over: Partial<PrometheusSettings> = {}) => parse(renderPrometheusConfig(settings(over))) as RenderedConfig;
const targetsOf = (config: RenderedConfig) =>
  Object.fromEntries(config.scrape_configs.map((c) => [c.job_name, c.static_configs.flatMap((s) => s.targets)]));

describe('Prometheus configuration of the platform', () => {
  it('scrapes every service as a job named as in PLATFORM_SERVICES, one instance per replica', () => {
    const jobs = platformScrapeJobs(platformProcesses({ replicas: 2 }));
    expect(jobs.map((j) => j.job)).toEqual(PLATFORM_SERVICES.map((s) => s.name));
    expect(jobs.find((j) => j.job === 'command-api')?.targets).toEqual(['127.0.0.1:3000', '127.0.0.1:3100']);
    expect(jobs.find((j) => j.job === 'psp-simulator')?.targets).toEqual(['127.0.0.1:3002']);
  });

  it('follows a namespace to its ports', () => {
    const ns = { id: 'bench_x1', databaseUrl: 'postgres://postgres@127.0.0.1:5432/bench_x1', portOffset: 10_000 };
    const jobs = platformScrapeJobs(platformProcesses({ namespace: ns }));
    expect(jobs.find((j) => j.job === 'payments-worker')?.targets).toEqual(['127.0.0.1:13030']);
  });

  it('scrapes itself and every process, every 5 s, with the rules loaded', () => {
    const config = rendered();
    expect(config.global).toEqual({ scrape_interval: '5s', scrape_timeout: '5s', evaluation_interval: '15s' });
    expect(config.rule_files).toEqual(['/srv/sluice/deploy/prometheus/rules/*.yml']);
    expect(targetsOf(config)).toEqual({
      prometheus: ['127.0.0.1:9090'],
      'command-api': ['127.0.0.1:3000'],
      'outbox-relay': ['127.0.0.1:3010'],
      projector: ['127.0.0.1:3011'],
      'query-api': ['127.0.0.1:3001'],
      'bonus-service': ['127.0.0.1:3020'],
      'psp-simulator': ['127.0.0.1:3002'],
      'payments-worker': ['127.0.0.1:3030'],
    });
  });

  it('keeps a path with spaces, colons and quotes one string', () => {
    const odd = '/home/a user/x: "y"/rules/*.yml';
    expect(rendered({ ruleFiles: [odd] }).rule_files).toEqual([odd]);
  });

  it('refuses a job named twice, the self job as a service, a target without a port and a zero interval', () => {
    const render = (over: Partial<PrometheusSettings>) => () => renderPrometheusConfig(settings(over));
    expect(
      render({
        jobs: [
          { job: 'a', targets: ['h:1'] },
          { job: 'a', targets: ['h:2'] },
        ],
      }),
    ).toThrow(/named twice/);
    expect(render({ jobs: [{ job: 'prometheus', targets: ['h:1'] }] })).toThrow(/named twice/);
    expect(render({ jobs: [{ job: 'a', targets: ['127.0.0.1'] }] })).toThrow(/not host:port/);
    expect(render({ scrapeIntervalSeconds: 0 })).toThrow(RangeError);
  });
});
