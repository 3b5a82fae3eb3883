import { Pool } from 'pg';
import { metricValue } from '@sluice/testing';
import { aloneApiEnv, benchEnv } from '../command-api/harness';
import { runPgbench, seedWallets, walletId, type PgbenchResult } from '../command-api/pgbench';
import { HttpTarget, runOpenModel } from '../loadgen';
import { classifyBackend, CpuWindow, platformTotal, postgresPids, uptimeTicks } from './cpu';
import { benchBearer } from '../auth';

/** The command API's pool (its default DB_POOL_MAX), and pgbench's connections with it. */
const POOL = 10;

export interface AloneResult {
  rate: number;
  ok: number;
  /** CPU per accepted deposit: the API process, and its PostgreSQL (its backends and the server's background processes). */
  apiCpuMs: number;
  pgCpuMs: number;
}

/**
 * The comparisons the figures are made against, in the same run: the
 * command API alone as the command-API bench runs it (aloneApiEnv: no relay,
 * no consumers), at `rate` deposits/s, its CPU per deposit and its
 * PostgreSQL's; then pgbench on the same deposit transaction with the API's
 * pool size, on the same database.
 */
export async function runReferences(
  rate: number,
  seconds: number,
  wallets: number,
  connections: number,
  say: (line: string) => void,
): Promise<{ alone: AloneResult; pgbench: PgbenchResult }> {
  const bench = await benchEnv('platform_alone', { WALLET_COMMANDS_ENABLED: 'false' });
  const pool = new Pool({ connectionString: bench.db.url, application_name: 'sluice-bench', max: 1 });
  pool.on('error', () => undefined); // an idle connection ended by the server: the next query opens another
  try {
    say(`the command API alone at ${rate}/s for ${seconds} s`);
    const api = await bench.start('command-api', aloneApiEnv(POOL));
    await seedWallets(bench.db.url, wallets);
    const target = new HttpTarget(api.url, connections);
    const auth = await benchBearer();
    const deposit = (label: string) => (i: number) => ({
      method: 'POST',
      path: `/v1/wallets/${walletId(1 + (i % wallets))}/deposits`,
      headers: { ...auth, 'idempotency-key': `alone-${process.pid}-${label}-${i}` },
      body: `{"amount":${1 + (i % 1000)},"currency":"EUR"}`,
    });
    await runOpenModel(target, [{ name: 'warm-up', ratePerSec: rate, durationSec: 5 }], {
      request: deposit('w'),
      progress: () => undefined,
    });
    const backends = async (withStatic: boolean) => {
      const m = new Map<number, string>();
      if (withStatic) for (const pid of postgresPids()) m.set(pid, 'pg other');
      const { rows } = await pool.query<{ pid: number; datname: string | null; application_name: string; backend_type: string }>(
        'SELECT pid, datname, application_name, backend_type FROM pg_stat_activity',
      );
      for (const r of rows)
        m.set(
          r.pid,
          classifyBackend(
            { pid: r.pid, datname: r.datname, applicationName: r.application_name, backendType: r.backend_type },
            bench.db.name,
          ),
        );
      return m;
    };
    const apiCpu = async () => metricValue(await (await fetch(`${api.url}/metrics`)).text(), 'process_cpu_seconds_total');
    const cpu = new CpuWindow();
    cpu.open(await backends(true), uptimeTicks());
    const api0 = await apiCpu();
    const sampler = setInterval(
      () =>
        void backends(false).then(
          (m) => cpu.sample(m),
          () => undefined,
        ),
      1_000,
    );
    const rec = await runOpenModel(target, [{ name: 'alone', ratePerSec: rate, durationSec: seconds }], {
      request: deposit('m'),
      progress: (line) => say(`  [alone]${line}`),
    });
    clearInterval(sampler);
    const byClass = cpu.close(await backends(false));
    byClass.delete('pg registry');
    const pgMs = platformTotal(byClass);
    const apiMs = ((await apiCpu()) - api0) * 1000;
    target.close();
    const ok = rec.samples.filter((s) => s.status === 201).length;
    const alone = { rate, ok, apiCpuMs: apiMs / ok, pgCpuMs: pgMs / ok };
    say(`  alone: ${ok} deposits, API ${alone.apiCpuMs.toFixed(3)} + PostgreSQL ${alone.pgCpuMs.toFixed(3)} ms CPU per deposit`);
    await api.kill('SIGTERM');
    const pgbench = await runPgbench(bench.db.url, { seconds, pipelined: false, connections: POOL, wallets });
    say(`  pgbench: ${pgbench.tps} tx/s`);
    return { alone, pgbench };
  } finally {
    await pool.end();
    await bench.close();
  }
}
