import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PLATFORM_SERVICES } from '@sluice/platform';
import { DASHBOARDS } from './dashboards';
import { dashboardFile } from './generate';
import { jobsIn, knownMetricNames, metricNamesIn } from './metric-names';
import { queriesOf, renderDashboard } from './model';

const ROOT = join(__dirname, '../..');
const DIR = join(__dirname, 'dashboards');
const known = knownMetricNames(ROOT);
// The services, and the edge's refusal counter (deploy/local/edge.sh).
const jobs = new Set([...PLATFORM_SERVICES.map((s) => s.name), 'edge']);

describe('Grafana dashboards', () => {
  it('are committed as generated (node dist/deploy/grafana/generate.js . rewrites them)', () => {
    expect(readdirSync(DIR).sort()).toEqual(DASHBOARDS.map((d) => d.file).sort());
    for (const dashboard of DASHBOARDS) {
      expect(readFileSync(join(DIR, dashboard.file), 'utf8')).toBe(dashboardFile(dashboard));
    }
  });

  it.each(DASHBOARDS.map((d) => [d.uid, d] as const))('%s reads only metrics the services export', (_uid, dashboard) => {
    const unknown = queriesOf(dashboard).flatMap((expr) => metricNamesIn(expr).filter((n) => !known.has(n)));
    expect(unknown).toEqual([]);
  });

  it.each(DASHBOARDS.map((d) => [d.uid, d] as const))('%s selects only jobs the platform runs', (_uid, dashboard) => {
    const strange = queriesOf(dashboard).flatMap((expr) => jobsIn(expr).filter((j) => !jobs.has(j)));
    expect(strange).toEqual([]);
  });

  it('have unique uids, and panels that do not overlap', () => {
    expect(new Set(DASHBOARDS.map((d) => d.uid)).size).toBe(DASHBOARDS.length);
    for (const dashboard of DASHBOARDS) {
      const cells = new Set<string>();
      for (const panel of renderDashboard(dashboard).panels as { gridPos: { x: number; y: number; w: number; h: number } }[]) {
        const { x, y, w, h } = panel.gridPos;
        expect(x + w).toBeLessThanOrEqual(24);
        for (let i = x; i < x + w; i++)
          for (let j = y; j < y + h; j++) {
            expect(cells.has(`${i},${j}`)).toBe(false);
            cells.add(`${i},${j}`);
          }
      }
    }
  });
});

describe('metric names found in a query', () => {
  it('are the identifiers with metric prefixes, not label values or functions', () => {
    expect(
      metricNamesIn('sum by (job) (rate(sluice_x_total{job="sluice_not_a_metric"}[5m])) / on () up + sluice:rule:max'),
    ).toEqual(['sluice_x_total', 'up', 'sluice:rule:max']);
  });

  it('flag a misspelt metric', () => {
    expect(metricNamesIn('rate(sluice_relay_event_total[1m])').filter((n) => !known.has(n))).toEqual([
      'sluice_relay_event_total',
    ]);
  });
});

describe('alerting and recording rules', () => {
  it('read only metrics the services export', () => {
    const rulesDir = join(ROOT, 'deploy/prometheus/rules');
    const unknown = readdirSync(rulesDir)
      .filter((f) => f.endsWith('.yml'))
      .flatMap((f) => metricNamesIn(readFileSync(join(rulesDir, f), 'utf8').replace(/^\s*#.*$/gm, '')))
      .filter((n) => !known.has(n));
    expect(unknown).toEqual([]);
  });
});
