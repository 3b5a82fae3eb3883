import { setTimeout as sleep } from 'node:timers/promises';
import type { Pool, PoolClient } from 'pg';
import type { Registry } from 'prom-client';
import { createPool } from '../pool';
import { PurgeMetrics, type PurgeOutcome } from './purge-metrics';
import { purgeStatements, type PurgeSpec, type PurgeStatements } from './purge-spec';

export interface PurgeSettings {
  /** Between the end of one round over every table and the start of the next. */
  intervalMs: number;
  /** Rows one batch (one short transaction) deletes at most. */
  batchRows: number;
  /** Rest between batches, so a backlog is drained as a trickle the hot path does not feel. */
  batchPauseMs: number;
  /** A batch that would wait longer than this for a table lock (a migration's, say) gives up. */
  lockTimeoutMs: number;
  /** A batch slower than this is cancelled, releasing its row locks. */
  statementTimeoutMs: number;
}

export interface PurgeRun {
  table: string;
  outcome: PurgeOutcome;
  rows: number;
  batches: number;
  durationMs: number;
  /** Age of the oldest row still waiting for its window, as read after the run. */
  oldestAgeSeconds?: number;
  error?: Error;
}

export interface PurgerOptions {
  /**
   * The purge's own pool (one connection is enough): a run holds its
   * connection between batches, which must not come out of the hot path's pool.
   */
  pool: Pool;
  specs: readonly PurgeSpec[];
  settings: PurgeSettings;
  registry: Registry;
  /** Each run's report, for the service's log. */
  onRun?: (run: PurgeRun) => void;
}

interface Registered {
  spec: PurgeSpec;
  sql: PurgeStatements;
}

/**
 * Deletes the rows of registered tables once they are past their retention
 * window, in small batches with a pause between them. Each table's run holds
 * a session advisory lock, so replicas take turns rather than race (and, the
 * batches skipping locked rows, racing would still be safe). stop() ends the
 * current batch's run and resolves once no statement is in flight.
 */
export class Purger {
  private readonly tables: Registered[];
  private readonly metrics: PurgeMetrics;
  private readonly abort = new AbortController();
  private loop?: Promise<void>;

  constructor(private readonly options: PurgerOptions) {
    this.tables = options.specs.map((spec) => ({ spec, sql: purgeStatements(spec) }));
    const names = this.tables.map((t) => t.spec.table);
    if (new Set(names).size !== names.length) throw new Error(`a table is registered for purging twice: ${names.join(', ')}`);
    this.metrics = new PurgeMetrics(options.registry);
    for (const { spec } of this.tables) this.metrics.window.set({ table: spec.table }, spec.windowMs / 1000);
  }

  /** Runs a round at once, then one every intervalMs after the previous round ends. */
  start(): void {
    if (this.loop) return;
    this.loop = (async () => {
      while (!this.stopped) {
        await this.runOnce();
        await this.pause(this.options.settings.intervalMs);
      }
    })();
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await this.loop;
  }

  /** One round over every table, one after the other; resolves with each table's run. */
  async runOnce(): Promise<PurgeRun[]> {
    const runs: PurgeRun[] = [];
    for (const table of this.tables) {
      if (this.stopped) break;
      const run = await this.purge(table);
      runs.push(run);
      this.options.onRun?.(run);
    }
    return runs;
  }

  private get stopped(): boolean {
    return this.abort.signal.aborted;
  }

  private async purge({ spec, sql }: Registered): Promise<PurgeRun> {
    const { settings } = this.options;
    const started = performance.now();
    const run: PurgeRun = { table: spec.table, outcome: 'done', rows: 0, batches: 0, durationMs: 0 };
    let client: PoolClient | undefined;
    let broken: Error | undefined;
    // A connection lost while checked out emits 'error'; unheard, it would end the process.
    const onError = (err: Error) => void (broken ??= err);
    try {
      client = await this.options.pool.connect();
      client.on('error', onError);
      // Session settings of the purge's own connection: every statement below is held to them.
      await client.query("SELECT set_config('lock_timeout', $1, false), set_config('statement_timeout', $2, false)", [
        `${settings.lockTimeoutMs}ms`,
        `${settings.statementTimeoutMs}ms`,
      ]);
      const { rows } = await client.query<{ got: boolean }>('SELECT pg_try_advisory_lock(hashtext($1)) AS got', [sql.lockName]);
      if (rows[0]?.got !== true) run.outcome = 'skipped';
      else {
        try {
          await this.deleteBatches(client, spec, sql, run);
        } finally {
          await client.query('SELECT pg_advisory_unlock(hashtext($1))', [sql.lockName]);
        }
      }
      const oldest = await client.query<{ age: number | null }>(sql.oldestAgeSeconds);
      run.oldestAgeSeconds = Math.max(0, oldest.rows[0]?.age ?? 0);
      this.metrics.oldestAge.set({ table: spec.table }, run.oldestAgeSeconds);
    } catch (err) {
      broken ??= err instanceof Error ? err : new Error(String(err));
      run.outcome = 'failed';
      run.error = broken;
    } finally {
      // A connection that failed is closed, not pooled: with it goes any advisory lock it held.
      client?.off('error', onError);
      client?.release(broken);
    }
    run.durationMs = performance.now() - started;
    this.metrics.runs.inc({ table: spec.table, outcome: run.outcome });
    this.metrics.duration.observe({ table: spec.table }, run.durationMs / 1000);
    return run;
  }

  private async deleteBatches(client: PoolClient, spec: PurgeSpec, sql: PurgeStatements, run: PurgeRun): Promise<void> {
    const { batchRows, batchPauseMs } = this.options.settings;
    for (;;) {
      if (this.stopped) {
        run.outcome = 'stopped';
        return;
      }
      const result = await client.query(sql.deleteBatch, [spec.windowMs, batchRows]);
      const deleted = result.rowCount ?? 0;
      run.batches += 1;
      run.rows += deleted;
      if (deleted > 0) this.metrics.rows.inc({ table: spec.table }, deleted);
      // Only an empty batch ends the run: a short one may have skipped rows the hot path held.
      if (deleted === 0) return;
      await this.pause(batchPauseMs);
    }
  }

  /** Resolves after ms, or at once on stop(). */
  private async pause(ms: number): Promise<void> {
    await sleep(ms, undefined, { signal: this.abort.signal }).catch(() => undefined);
  }
}

/** What the purge writes to the service's log (a pino logger fits). */
export interface PurgeLog {
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
}

export interface RetentionPurge {
  purger: Purger;
  /** Stops the purge (the batch in flight finishes) and closes its connection. */
  stop(): Promise<void>;
}

/** The purge settings of a service's configuration (libs/config's purgeEnv, with the service's DATABASE_URL). */
export interface PurgeServiceConfig {
  DATABASE_URL: string;
  PURGE_ENABLED: boolean;
  PURGE_INTERVAL_MS: number;
  PURGE_BATCH_ROWS: number;
  PURGE_BATCH_PAUSE_MS: number;
  PURGE_LOCK_TIMEOUT_MS: number;
  PURGE_STATEMENT_TIMEOUT_MS: number;
}

/**
 * A service's retention purge as its composition root starts it: on its own
 * one-connection pool, with a log line when it starts, for each run that
 * deleted rows or failed, and when it stops. None, with a warning naming what
 * is then kept for ever, when PURGE_ENABLED is off.
 */
export function startServicePurge(options: {
  service: string;
  config: PurgeServiceConfig;
  specs: readonly PurgeSpec[];
  /** What stays for ever without the purge, for the warning ("idempotency keys and inbox rows"). */
  kept: string;
  registry: Registry;
  logger: PurgeLog & { child(bindings: object): PurgeLog };
}): RetentionPurge | undefined {
  const { config } = options;
  if (!config.PURGE_ENABLED) {
    options.logger.warn({}, `PURGE_ENABLED is off: ${options.kept} are kept for ever`);
    return undefined;
  }
  return startRetentionPurge({
    url: config.DATABASE_URL,
    applicationName: `sluice-${options.service}-purge`,
    specs: options.specs,
    settings: {
      intervalMs: config.PURGE_INTERVAL_MS,
      batchRows: config.PURGE_BATCH_ROWS,
      batchPauseMs: config.PURGE_BATCH_PAUSE_MS,
      lockTimeoutMs: config.PURGE_LOCK_TIMEOUT_MS,
      statementTimeoutMs: config.PURGE_STATEMENT_TIMEOUT_MS,
    },
    registry: options.registry,
    logger: options.logger.child({ component: 'retention-purge' }),
  });
}

function startRetentionPurge(options: {
  url: string;
  applicationName: string;
  specs: readonly PurgeSpec[];
  settings: PurgeSettings;
  registry: Registry;
  logger: PurgeLog;
}): RetentionPurge {
  const { logger, settings } = options;
  const pool = createPool({ url: options.url, applicationName: options.applicationName, max: 1 });
  const purger = new Purger({
    pool,
    specs: options.specs,
    settings,
    registry: options.registry,
    onRun: (run) => {
      const fields = {
        table: run.table,
        outcome: run.outcome,
        rows: run.rows,
        batches: run.batches,
        durationMs: Math.round(run.durationMs),
        oldestAgeSeconds: run.oldestAgeSeconds,
      };
      if (run.outcome === 'failed')
        logger.warn({ ...fields, err: run.error }, 'retention purge failed; the next run tries again');
      else if (run.rows > 0) logger.info(fields, 'retention purge deleted expired rows');
    },
  });
  logger.info(
    {
      tables: Object.fromEntries(options.specs.map((s) => [s.table, `${s.windowMs / 3_600_000} h`])),
      intervalMs: settings.intervalMs,
      batchRows: settings.batchRows,
    },
    'retention purge started',
  );
  purger.start();
  return {
    purger,
    stop: async () => {
      await purger.stop();
      await pool.end();
      logger.info({}, 'retention purge stopped');
    },
  };
}
