import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { Client } from 'pg';
import { summarizeLatencies, type LatencySummary } from '../loadgen';
import { pipelinedScript } from './pgbench-script';

const execFileP = promisify(execFile);

/** Wallet n of seedWallets (and of deposit.pgbench.sql's :w). */
export const walletId = (n: number) => `00000000-0000-7000-8000-${String(n).padStart(12, '0')}`;

/** CPU seconds of every process named postgres (the server and its backends, live or ended), from /proc; NaN off Linux. */
export function postgresCpuSeconds(): number {
  if (!existsSync('/proc/self/stat')) return NaN;
  const ticks = 100; // USER_HZ on Linux
  let total = 0;
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const close = stat.lastIndexOf(')');
      if (stat.slice(stat.indexOf('(') + 1, close) !== 'postgres') continue;
      const fields = stat.slice(close + 2).split(' ');
      // utime and stime, plus cutime and cstime: the postmaster's count of its ended backends (pgbench's).
      total += (Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14])) / ticks;
    } catch {
      // the process ended meanwhile
    }
  }
  return total;
}

/** Wallets 1..count (ids from walletId), EUR, empty: the wallets the deposit benches and pgbench write to. */
export async function seedWallets(url: string, count: number): Promise<void> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(
      `INSERT INTO wallets (id, currency, balance, held, version, created_at, updated_at)
       SELECT ('00000000-0000-7000-8000-' || lpad(n::text, 12, '0'))::uuid, 'EUR', 0, 0, 1, now(), now()
         FROM generate_series(1, $1::int) n`,
      [count],
    );
  } finally {
    await client.end();
  }
}

export interface PgbenchResult {
  tps: number;
  latency: LatencySummary;
  /** PostgreSQL's CPU per transaction: every postgres process over the run, over its committed transactions. */
  pgCpuMs: number;
  output: string;
}

/**
 * pgbench running deposit.pgbench.sql (-M prepared; pipelined: its statements grouped as the
 * API's pipelined pool sends them) over `connections` connections against the wallets seedWallets made.
 */
export async function runPgbench(
  url: string,
  options: { seconds: number; pipelined: boolean; connections: number; wallets: number },
): Promise<PgbenchResult> {
  const { seconds, pipelined, connections, wallets } = options;
  const source = resolve(__dirname, '../../../bench/command-api/deposit.pgbench.sql');
  const u = new URL(url);
  const logDir = mkdtempSync(join(tmpdir(), 'sluice-pgbench-'));
  const script = pipelined ? join(logDir, 'deposit.pipelined.sql') : source;
  if (pipelined) writeFileSync(script, pipelinedScript(readFileSync(source, 'utf8')));
  process.stderr.write(`pgbench${pipelined ? ' (pipelined)' : ''}: ${connections} connections for ${seconds} s\n`);
  try {
    const cpuBefore = postgresCpuSeconds();
    const { stdout } = await execFileP(
      'pgbench',
      [
        '-n',
        '-M',
        'prepared',
        '-c',
        String(connections),
        '-j',
        '2',
        '-T',
        String(seconds),
        '-D',
        `wallets=${wallets}`,
        '-f',
        script,
        '-l',
        '--log-prefix',
        join(logDir, 'tx'),
        '-h',
        u.hostname,
        '-p',
        u.port || '5432',
        '-U',
        decodeURIComponent(u.username || 'postgres'),
        u.pathname.slice(1),
      ],
      { maxBuffer: 16 * 1024 * 1024 },
    );
    const tps = Number(
      /tps = ([\d.]+) \(without initial connection time\)/.exec(stdout)?.[1] ?? /tps = ([\d.]+)/.exec(stdout)?.[1] ?? 0,
    );
    const latencies: number[] = [];
    for (const f of readdirSync(logDir).filter((name) => name.startsWith('tx'))) {
      for (const line of readFileSync(join(logDir, f), 'utf8').split('\n')) {
        const micros = Number(line.split(' ')[2]);
        if (Number.isFinite(micros) && line) latencies.push(micros / 1000);
      }
    }
    return {
      tps: Math.round(tps),
      latency: summarizeLatencies(latencies),
      // PostgreSQL's CPU per transaction (its whole run over its committed transactions).
      pgCpuMs: ((postgresCpuSeconds() - cpuBefore) * 1000) / (tps * seconds),
      output: stdout,
    };
  } finally {
    rmSync(logDir, { recursive: true, force: true });
  }
}
