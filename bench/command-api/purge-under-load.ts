import { Client } from 'pg';
import { metricValue } from '@sluice/testing';
import { benchBearer } from '../auth';
import { HttpTarget, runOpenModel, summarizeLatencies, type LatencySummary } from '../loadgen';
import { writeResult } from '../results';
import { printTable } from '../stats';
import { aloneApiEnv, benchEnv, generatorFirst, option } from './harness';
import { seedWallets, walletId } from './pgbench';

/**
 * Does the retention purge cost the hot path? The command API takes deposits
 * at a fixed rate (open model) while idempotency_keys holds a backlog of
 * expired rows, once with the purge off and once with it on (deleting that
 * backlog the whole time), in alternating rounds; each phase starts from the
 * same backlog, vacuumed. Prints p50/p99 side by side and writes a JSON result.
 *   node dist/bench/command-api/purge-under-load.js [--rate 800] [--sec 30] [--backlog 400000] [--rounds 2]
 *     [--wallets 1000] [--pool 10] [--batch 500] [--pause-ms 100]
 * The backlog must outlast a phase with the purge on (it deletes about batch / (pause + batch time)
 * rows a second); the result says how many rows each phase purged.
 */
const RATE = option('rate', 800);
const SEC = option('sec', 30);
const BACKLOG = option('backlog', 400_000);
const ROUNDS = option('rounds', 2);
const WALLETS = option('wallets', 1_000);
const POOL = option('pool', 10);
const BATCH = option('batch', 500);
const PAUSE_MS = option('pause-ms', 100);

interface Phase {
  purge: 'off' | 'on';
  round: number;
  achieved: number;
  errors: number;
  latency: LatencySummary;
  rowsPurged: number;
  backlogLeft: number;
}

/** Refills idempotency_keys to exactly BACKLOG rows three days old (past the 48 h window), then vacuums it. */
async function resetBacklog(url: string): Promise<void> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(`DELETE FROM idempotency_keys WHERE created_at < now() - interval '24 hours'`);
    await client.query(
      `INSERT INTO idempotency_keys (client_id, key, fingerprint, status_code, response_body, response_headers, created_at)
       SELECT 'bench-expired', 'expired-' || g, repeat('0', 64), 201,
              '{"depositId":"00000000-0000-7000-8000-000000000000","walletId":"00000000-0000-7000-8000-000000000001","balance":100,"version":2}',
              '{}'::jsonb, now() - interval '72 hours' - make_interval(secs => g)
         FROM generate_series(1, $1::int) g`,
      [BACKLOG],
    );
    await client.query('VACUUM ANALYZE idempotency_keys');
  } finally {
    await client.end();
  }
}

async function expiredLeft(url: string): Promise<number> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ n: string }>(
      `SELECT count(*)::text AS n FROM idempotency_keys WHERE created_at < now() - interval '24 hours'`,
    );
    return Number(rows[0]?.n ?? 0);
  } finally {
    await client.end();
  }
}

async function main(): Promise<void> {
  const bench = await benchEnv('purge_load', { WALLET_COMMANDS_ENABLED: 'false' });
  try {
    const apiEnv = {
      ...aloneApiEnv(POOL),
      PURGE_BATCH_ROWS: String(BATCH),
      PURGE_BATCH_PAUSE_MS: String(PAUSE_MS),
      PURGE_INTERVAL_MS: '1000',
    };
    // A first API process migrates the database; its purge stays off.
    const setup = await bench.start('command-api', { ...apiEnv, PURGE_ENABLED: 'false' });
    await seedWallets(bench.db.url, WALLETS);
    await setup.kill('SIGTERM');
    const auth = await benchBearer();
    const generatorEven = generatorFirst();
    const phases: Phase[] = [];
    for (let round = 1; round <= ROUNDS; round++) {
      for (const purge of ['off', 'on'] as const) {
        process.stderr.write(`round ${round}, purge ${purge}: refilling ${BACKLOG} expired keys\n`);
        await resetBacklog(bench.db.url);
        const api = await bench.start('command-api', { ...apiEnv, PURGE_ENABLED: purge === 'on' ? 'true' : 'false' });
        const target = new HttpTarget(api.url, 128);
        const deposit = (i: number) => ({
          method: 'POST',
          path: `/v1/wallets/${walletId(1 + (i % WALLETS))}/deposits`,
          headers: { ...auth, 'idempotency-key': `pl-${round}-${purge}-${i}-${Date.now()}` },
          body: `{"amount":${1 + (i % 1000)},"currency":"EUR"}`,
        });
        await runOpenModel(target, [{ name: 'warm-up', ratePerSec: RATE, durationSec: 5 }], { request: (i) => deposit(i + 1e9) });
        const purgedBefore = metricValue(await (await fetch(`${api.url}/metrics`)).text(), 'sluice_purge_rows_total') || 0;
        process.stderr.write(`round ${round}, purge ${purge}: ${RATE} deposits/s for ${SEC} s\n`);
        const rec = await runOpenModel(target, [{ name: purge, ratePerSec: RATE, durationSec: SEC }], { request: deposit });
        const purgedAfter = metricValue(await (await fetch(`${api.url}/metrics`)).text(), 'sluice_purge_rows_total') || 0;
        target.close();
        await api.kill('SIGTERM');
        const ok = rec.filter((s) => s.status === 201);
        phases.push({
          purge,
          round,
          achieved: Math.round(ok.length / SEC),
          errors: rec.samples.length - ok.length,
          latency: summarizeLatencies(ok.map((s) => s.latencyMs)),
          rowsPurged: purgedAfter - purgedBefore,
          backlogLeft: await expiredLeft(bench.db.url),
        });
      }
    }
    generatorEven();

    printTable(
      `command API deposits at ${RATE}/s for ${SEC} s, idempotency_keys holding ${BACKLOG} expired rows; purge batches of ${BATCH}, ${PAUSE_MS} ms apart (latency in ms)`,
      ['round', 'purge', 'achieved/s', 'errors', 'p50', 'p95', 'p99', 'max', 'rows purged in phase', 'expired left'],
      phases.map((p) => [
        p.round,
        p.purge,
        p.achieved,
        p.errors,
        p.latency.p50,
        p.latency.p95,
        p.latency.p99,
        p.latency.max,
        p.rowsPurged,
        p.backlogLeft,
      ]),
    );
    const all = (purge: 'off' | 'on') => phases.filter((p) => p.purge === purge);
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)] ?? NaN;
    const side = (purge: 'off' | 'on') => ({
      p50: median(all(purge).map((p) => p.latency.p50)),
      p99: median(all(purge).map((p) => p.latency.p99)),
      errors: all(purge).reduce((n, p) => n + p.errors, 0),
      rowsPurgedPerSec: Math.round(all(purge).reduce((n, p) => n + p.rowsPurged, 0) / (SEC * all(purge).length)),
    });
    const off = side('off');
    const on = side('on');
    printTable(
      'side by side (lower median over rounds)',
      ['purge', 'p50 ms', 'p99 ms', 'errors', 'rows purged/s'],
      [
        ['off', off.p50, off.p99, off.errors, off.rowsPurgedPerSec],
        ['on', on.p50, on.p99, on.errors, on.rowsPurgedPerSec],
      ],
    );
    const file = writeResult('command-api-purge-under-load', {
      rate: RATE,
      sec: SEC,
      backlog: BACKLOG,
      batchRows: BATCH,
      batchPauseMs: PAUSE_MS,
      pool: POOL,
      phases,
      off,
      on,
    });
    console.log(`wrote ${file}`);
  } finally {
    await bench.close();
  }
}

main().catch((err: unknown) => {
  console.error(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  process.exit(1);
});
