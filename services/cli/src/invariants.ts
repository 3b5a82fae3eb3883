import { commonEnv, env, loadConfig, z } from '@sluice/config';
import { createPool } from '@sluice/db';
import { checkInvariants, fetchExecutedPayouts, type InvariantReport } from '@sluice/invariants';
import { walletBalancesPage } from '@sluice/projection-wallet';

const USAGE = `usage: sluice invariants check [--psp-url URL] [--no-psp] [--settled] [--read-model] [--json]

Checks the money invariants of the database in DATABASE_URL against the payment provider's books:
money conserved (deposits = balances + completed withdrawals = balances + paid out), holds accounted,
no withdrawal paid twice or paid and released; with --settled, every withdrawal completed or compensated;
with --read-model, the wallet read model equal to the command side. Exits 1 when one is violated.`;

const invariantsConfig = z.object({
  DATABASE_URL: commonEnv.DATABASE_URL,
  PSP_URL: env.url('http://127.0.0.1:3002'),
});

/** `sluice invariants check`: prints the totals and every violation; exit 0 when all hold, 1 when not, 2 on bad usage. */
export async function runInvariants(argv: readonly string[]): Promise<number> {
  const [command, ...flags] = argv;
  const known = new Set(['--psp-url', '--no-psp', '--settled', '--read-model', '--json']);
  if (command !== 'check' || flags.some((f, i) => f.startsWith('--') && !known.has(f) && flags[i - 1] !== '--psp-url')) {
    console.error(USAGE);
    return 2;
  }
  const config = loadConfig(invariantsConfig);
  const i = flags.indexOf('--psp-url');
  const pspUrl = i >= 0 ? flags[i + 1] : config.PSP_URL;
  const pool = createPool({ url: config.DATABASE_URL, applicationName: 'sluice-cli-invariants', max: 2 });
  try {
    const payouts = flags.includes('--no-psp') || !pspUrl ? undefined : await fetchExecutedPayouts(pspUrl);
    const report = await checkInvariants({
      pool,
      ...(payouts && { payouts }),
      settled: flags.includes('--settled'),
      ...(flags.includes('--read-model') && { readModel: walletBalancesPage }),
    });
    if (flags.includes('--json')) console.log(JSON.stringify(report, null, 2));
    else print(report);
    return report.ok ? 0 : 1;
  } finally {
    await pool.end();
  }
}

function print(report: InvariantReport): void {
  const t = report.totals;
  const rows: [string, string | number][] = [
    ['wallets', t.wallets],
    ['deposited', t.deposited],
    ['balances (owned funds)', t.balances],
    ['held for pending withdrawals', t.held],
    ['pending withdrawals', t.pendingWithdrawals],
    ['completed withdrawals', `${t.completedWithdrawals} (${t.completedAmount})`],
    ['compensated withdrawals', t.compensatedWithdrawals],
    ['payouts by the provider', t.payouts === null ? 'not checked' : `${t.payouts} (${t.paidOut})`],
  ];
  for (const [k, v] of rows) console.log(`${k.padEnd(30)} ${v}`);
  if (report.ok) {
    console.log('\nall invariants hold');
    return;
  }
  console.log(`\n${report.violations.length} violation(s):`);
  for (const v of report.violations) console.log(`  ${v.code}: ${v.detail}`);
}
