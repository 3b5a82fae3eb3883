import { userInfo } from 'node:os';
import { commonEnv, env, loadConfig, z } from '@sluice/config';
import { createPool } from '@sluice/db';
import { ReviewStore } from './review/review-store';

const USAGE = `usage: payouts <command>

  parked [--json]                            sagas under review (the provider did not say whether money left)
                                             and final answers that contradict a finished saga
  resolve <withdrawalId> --paid|--failed --note <why> [--by <who>] [--reference <payoutId>]
                                             --paid completes the withdrawal (the hold leaves the balance),
                                             --failed releases the hold; who and why are recorded
  ack <withdrawalId> --note <why> [--by <who>]
                                             marks the contradicting answers of a withdrawal as looked at

Reads the payments worker's database (DATABASE_URL); the running worker sends the wallet commands.`;

const cliConfig = z.object({
  DATABASE_URL: commonEnv.DATABASE_URL,
  PAYOUT_RECONFIRM_MS: env.int(60_000, 100),
});

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** `payouts parked|resolve|ack`: exit 0 on success, 1 when refused, 2 on bad usage. */
export async function runPayouts(
  argv: readonly string[],
  print: (line: string) => void = (line) => process.stdout.write(`${line}\n`),
): Promise<number> {
  const [command, ...args] = argv;
  const flag = (name: string): string | undefined => {
    const i = args.indexOf(`--${name}`);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const config = loadConfig(cliConfig);
  const pool = createPool({ url: config.DATABASE_URL, applicationName: 'sluice-payouts-cli', max: 2 });
  const store = new ReviewStore(pool, {
    answerDeadlineMs: 0,
    reconfirmMs: config.PAYOUT_RECONFIRM_MS,
    stepBackoffBaseMs: 0,
    stepBackoffMaxMs: 0,
  });
  try {
    if (command === 'parked') {
      const sagas = await store.underReview();
      const conflicts = await store.openConflicts();
      if (args.includes('--json')) {
        print(JSON.stringify({ sagas, conflicts }));
        return 0;
      }
      for (const s of sagas) {
        print(
          `${s.withdrawalId}\t${s.amount} ${s.currency}\twallet ${s.walletId}\t${s.reason ?? '-'}\tsince ${s.since?.toISOString() ?? '-'}\t${s.providerReference ?? '-'}\t${s.what ?? ''}`,
        );
      }
      for (const c of conflicts) {
        print(
          `${c.withdrawalId}\tconflict: saga ${c.sagaState}, provider reports ${c.reported} (${c.payoutId}, ${c.source})\t${c.detectedAt.toISOString()}`,
        );
      }
      print(`${sagas.length} under review, ${conflicts.length} conflicts`);
      return 0;
    }
    const withdrawalId = args[0];
    const note = flag('note');
    const by = flag('by') ?? userInfo().username;
    if ((command === 'resolve' || command === 'ack') && withdrawalId && UUID.test(withdrawalId) && note) {
      if (command === 'ack') {
        print(`${await store.acknowledgeConflicts(withdrawalId, by)} conflicts acknowledged`);
        return 0;
      }
      const paid = args.includes('--paid');
      if (paid === args.includes('--failed')) {
        console.error('give exactly one of --paid and --failed');
        return 2;
      }
      const reference = flag('reference');
      try {
        await store.resolve({
          withdrawalId,
          outcome: paid ? 'paid' : 'failed',
          by,
          note,
          ...(reference !== undefined && { providerReference: reference }),
        });
      } catch (err) {
        console.error(`refused: ${err instanceof Error ? err.message : String(err)}`);
        return 1;
      }
      print(`${withdrawalId} resolved as ${paid ? 'paid' : 'failed'} by ${by}`);
      return 0;
    }
    console.error(USAGE);
    return 2;
  } finally {
    await pool.end();
  }
}

if (require.main === module) {
  runPayouts(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      console.error(`payouts: ${err instanceof Error ? err.message : String(err)}`);
      process.exit(1);
    },
  );
}
