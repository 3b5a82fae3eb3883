/**
 * A small description of a Grafana dashboard (rows of time-series and stat panels, each a few
 * PromQL queries) and its rendering to the JSON model Grafana imports and provisions
 * (schemaVersion 39: Grafana 10 and later). The dashboards themselves are in dashboards.ts;
 * `node dist/deploy/grafana/generate.js` writes them to deploy/grafana/dashboards/.
 */

/** Grafana's unit ids for the few units the dashboards use. */
export type Unit = 's' | 'ms' | 'bytes' | 'percentunit' | 'reqps' | 'ops' | 'short' | 'none';

export interface Query {
  expr: string;
  legend?: string;
}

export interface Panel {
  title: string;
  description?: string;
  queries: Query[];
  unit?: Unit;
  kind?: 'timeseries' | 'stat';
  /** Width in Grafana's 24-column grid; 8 unless given. */
  width?: number;
  /** Stacked areas, for parts that sum to a whole (CPU per service, requests per status). */
  stacked?: boolean;
  /** Thresholds drawn as lines: the SLO or the limit the panel is judged by. */
  thresholds?: number[];
}

export interface Row {
  title: string;
  panels: Panel[];
}

export interface Dashboard {
  /** Stable id: links and provisioning refer to it. */
  uid: string;
  title: string;
  description: string;
  /** File name under deploy/grafana/dashboards/. */
  file: string;
  rows: Row[];
}

const DATASOURCE = { type: 'prometheus', uid: '${datasource}' };
const PANEL_HEIGHT = 8;

function renderPanel(panel: Panel, id: number, x: number, y: number, width: number): Record<string, unknown> {
  const kind = panel.kind ?? 'timeseries';
  const steps = [
    { color: 'green', value: null },
    ...(panel.thresholds ?? []).map((value, i) => ({ color: i === 0 ? 'orange' : 'red', value })),
  ];
  return {
    id,
    type: kind,
    title: panel.title,
    ...(panel.description ? { description: panel.description } : {}),
    datasource: DATASOURCE,
    gridPos: { h: PANEL_HEIGHT, w: width, x, y },
    targets: panel.queries.map((q, i) => ({
      datasource: DATASOURCE,
      expr: q.expr,
      legendFormat: q.legend ?? '__auto',
      range: true,
      refId: String.fromCharCode(65 + i),
    })),
    fieldConfig: {
      defaults: {
        unit: panel.unit ?? 'short',
        thresholds: { mode: 'absolute', steps },
        ...(kind === 'timeseries'
          ? {
              custom: {
                drawStyle: 'line',
                lineWidth: 1,
                fillOpacity: panel.stacked ? 30 : 0,
                stacking: { mode: panel.stacked ? 'normal' : 'none', group: 'A' },
                thresholdsStyle: { mode: panel.thresholds?.length ? 'line' : 'off' },
                showPoints: 'never',
              },
            }
          : {}),
      },
      overrides: [],
    },
    options:
      kind === 'stat'
        ? { reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false }, colorMode: 'value', graphMode: 'area' }
        : { legend: { displayMode: 'list', placement: 'bottom', showLegend: true }, tooltip: { mode: 'multi', sort: 'desc' } },
  };
}

/** The JSON model of one dashboard: rows laid out top to bottom, panels left to right, wrapping at 24 columns. */
export function renderDashboard(dashboard: Dashboard): Record<string, unknown> {
  const panels: Record<string, unknown>[] = [];
  let id = 1;
  let y = 0;
  for (const row of dashboard.rows) {
    panels.push({ id: id++, type: 'row', title: row.title, collapsed: false, gridPos: { h: 1, w: 24, x: 0, y }, panels: [] });
    y += 1;
    let x = 0;
    for (const panel of row.panels) {
      const width = panel.width ?? 8;
      if (x + width > 24) {
        x = 0;
        y += PANEL_HEIGHT;
      }
      panels.push(renderPanel(panel, id++, x, y, width));
      x += width;
    }
    y += PANEL_HEIGHT;
  }
  return {
    uid: dashboard.uid,
    title: dashboard.title,
    description: dashboard.description,
    tags: ['sluice'],
    editable: true,
    graphTooltip: 1,
    schemaVersion: 39,
    version: 1,
    refresh: '10s',
    time: { from: 'now-1h', to: 'now' },
    timezone: 'utc',
    annotations: { list: [] },
    links: [{ type: 'dashboards', tags: ['sluice'], asDropdown: true, title: 'Sluice', includeVars: true, keepTime: true }],
    templating: {
      list: [
        {
          name: 'datasource',
          label: 'Prometheus',
          type: 'datasource',
          query: 'prometheus',
          current: {},
          hide: 0,
          refresh: 1,
        },
      ],
    },
    panels,
  };
}

/** Every PromQL expression of a dashboard, in panel order. */
export const queriesOf = (dashboard: Dashboard): string[] =>
  dashboard.rows.flatMap((row) => row.panels.flatMap((panel) => panel.queries.map((q) => q.expr)));
