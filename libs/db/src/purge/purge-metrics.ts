import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export type PurgeOutcome = 'done' | 'skipped' | 'failed' | 'stopped';

/** The purge's metrics, per table (docs/data-lifecycle.md; alerts in deploy/prometheus/rules/lifecycle.yml). */
export class PurgeMetrics {
  readonly rows: Counter<'table'>;
  readonly runs: Counter<'table' | 'outcome'>;
  readonly duration: Histogram<'table'>;
  readonly oldestAge: Gauge<'table'>;
  readonly window: Gauge<'table'>;

  constructor(registry: Registry) {
    const registers = [registry];
    this.rows = new Counter({
      name: 'sluice_purge_rows_total',
      help: 'Rows deleted by the retention purge, by table',
      labelNames: ['table'],
      registers,
    });
    this.runs = new Counter({
      name: 'sluice_purge_runs_total',
      help: 'Purge runs by table and outcome (done, skipped: another replica held the table, failed, stopped: shutdown)',
      labelNames: ['table', 'outcome'],
      registers,
    });
    this.duration = new Histogram({
      name: 'sluice_purge_run_duration_seconds',
      help: 'Duration of one purge run over one table, pauses between batches included',
      labelNames: ['table'],
      buckets: [0.01, 0.05, 0.25, 1, 5, 30, 120, 600],
      registers,
    });
    this.oldestAge = new Gauge({
      name: 'sluice_purge_oldest_row_age_seconds',
      help: 'Age of the oldest row the purge may delete once old enough (0 when there is none), as of the last run',
      labelNames: ['table'],
      registers,
    });
    this.window = new Gauge({
      name: 'sluice_purge_window_seconds',
      help: 'How long the purge keeps rows of the table (its configured retention window)',
      labelNames: ['table'],
      registers,
    });
  }
}
