import { loadConfig } from '@sluice/config';
import { localPrometheusEnv, localPrometheusSettings, parseScrapeTargets } from './prometheus-config';

const settingsOf = (env: Record<string, string>) =>
  localPrometheusSettings(loadConfig(localPrometheusEnv, env), '/srv/sluice/rules');

describe('the local Prometheus settings', () => {
  it('scrape every process the supervisor runs, the edge, the registry, and load every rule file', () => {
    const s = settingsOf({ SLUICE_REPLICAS: '2' });
    expect(s.listen).toBe('127.0.0.1:9090');
    expect(s.scrapeIntervalSeconds).toBe(5);
    expect(s.ruleFiles).toEqual(['/srv/sluice/rules/*.yml']);
    expect(s.jobs.find((j) => j.job === 'projector')?.targets).toEqual(['127.0.0.1:3011', '127.0.0.1:3111']);
    expect(s.jobs.at(-1)).toEqual({ job: 'registry', targets: ['127.0.0.1:8085'] });
    expect(s.jobs.find((j) => j.job === 'edge')).toEqual({ job: 'edge', targets: ['127.0.0.1:3903'] });
  });

  it('scrape only the given targets with PROMETHEUS_TARGETS, and no registry or edge when they are empty', () => {
    const s = settingsOf({
      PROMETHEUS_TARGETS: 'command-api=127.0.0.1:4000,command-api=127.0.0.1:4100',
      PROMETHEUS_REGISTRY: '',
      PROMETHEUS_EDGE: '',
    });
    expect(s.jobs).toEqual([{ job: 'command-api', targets: ['127.0.0.1:4000', '127.0.0.1:4100'] }]);
  });

  it('refuse a target without its job', () => {
    expect(() => parseScrapeTargets(['127.0.0.1:4000'])).toThrow(RangeError);
    expect(() => parseScrapeTargets(['command-api='])).toThrow(RangeError);
  });
});
