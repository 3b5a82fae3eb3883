import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DASHBOARDS } from './dashboards';
import { renderDashboard } from './model';

/** The text of a dashboard's JSON file, as committed under deploy/grafana/dashboards/. */
export const dashboardFile = (dashboard: (typeof DASHBOARDS)[number]): string =>
  `${JSON.stringify(renderDashboard(dashboard), null, 2)}\n`;

/** Writes every dashboard's JSON to <root>/deploy/grafana/dashboards/ (run from the repository root). */
function main(root = process.argv[2] ?? '.'): void {
  const dir = join(root, 'deploy/grafana/dashboards');
  mkdirSync(dir, { recursive: true });
  for (const dashboard of DASHBOARDS) {
    writeFileSync(join(dir, dashboard.file), dashboardFile(dashboard));
    process.stderr.write(`wrote ${join(dir, dashboard.file)}\n`);
  }
}

if (require.main === module) main();
