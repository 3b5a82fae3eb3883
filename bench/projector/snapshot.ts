import { Partitioners } from 'kafkajs';
import { partitionForKey } from '@sluice/messaging';
import { WalletHistorySimulator } from '@sluice/projection-wallet';
import { uniqueName } from '@sluice/testing';
import { writeResult } from '../results';
import { percentile, printTable } from '../stats';
import { run, setupEnv } from './measure';
import { dropSetup, freshSetup, PARTITIONS, type BenchSetup } from './setup';

/**
 * A projection rebuild from the earliest offset against one from a snapshot
 * taken at 90 % of the history, on the same topic and machine:
 * - produces 90 % of N events of simulated wallet histories (12 partitions),
 *   builds each projection measured to there (`sluice projection rebuild`,
 *   switched live) and takes a snapshot of it (`sluice projection snapshot`);
 * - produces the last 10 %;
 * - then, for each projection, `sluice projection rebuild <p> --no-switch`
 *   with `--no-snapshot` (all N events) and without (restore + the last 10 %),
 *   alternated over `rounds` rounds (the order flips each round, so neither
 *   always runs on a warmer cache), each version dropped after its run.
 * Times are the command's wall time, start-up and group join included, as an
 * operator waits for it; medians of the rounds.
 *   node dist/bench/projector/snapshot.js [events=1000000] [rounds=3] [projections=wallet,transactions]
 */
const EVENTS = Number(process.argv[2] ?? 1_000_000);
const ROUNDS = Number(process.argv[3] ?? 3);
const PROJECTIONS = (process.argv[4] ?? 'wallet,transactions').split(',');
const AT = 0.9;
const CLI = 'dist/services/cli/src/main.js';

/** Produces about `count` events, never cutting a wallet's follow-ups off, so the next call continues every history. */
async function produce(setup: BenchSetup, sim: WalletHistorySimulator, count: number): Promise<number> {
  const producer = setup.kafka.producer({ allowAutoTopicCreation: false, createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  let sent = 0;
  let shown = 0;
  while (sent < count) {
    const events = [];
    while (events.length < 5_000 && sent + events.length < count) events.push(sim.next(), ...sim.pendingFollowUps());
    // One send at a time: a wallet's events must land in order.
    await producer.send({
      topic: setup.topic,
      acks: -1,
      messages: events.map((e) => ({
        key: e.data.walletId,
        value: setup.codec.encode('wallet', e),
        partition: partitionForKey(e.data.walletId, PARTITIONS),
        headers: { id: e.data.eventId, type: e.type },
      })),
    });
    sent += events.length;
    if (sent - shown >= count / 10) {
      shown = sent;
      process.stderr.write(`  produced ${sent.toLocaleString()}/${count.toLocaleString()}\n`);
    }
  }
  await producer.disconnect();
  return sent;
}

interface RebuildRun {
  readonly projection: string;
  readonly mode: 'from 0' | 'from snapshot';
  readonly round: number;
  readonly wallSeconds: number;
  /** Records the command applied (its own report). */
  readonly events: number;
  /** Restoring the snapshot's tables and offsets, from the command's output. */
  readonly restoreSeconds: number | null;
}

async function rebuildOnce(
  env: Record<string, string>,
  projection: string,
  mode: RebuildRun['mode'],
  round: number,
): Promise<RebuildRun> {
  const args = [
    CLI,
    'projection',
    'rebuild',
    projection,
    '--no-switch',
    '--fresh',
    ...(mode === 'from 0' ? ['--no-snapshot'] : []),
  ];
  const started = performance.now();
  const { stdout } = await run(process.execPath, args, { env });
  const wallSeconds = (performance.now() - started) / 1000;
  const done = /v(\d+) caught up \((\d+) events in/.exec(stdout);
  if (!done) throw new Error(`unexpected rebuild output:\n${stdout}`);
  const restored = / rows restored in ([0-9.]+) s/.exec(stdout);
  if (mode === 'from snapshot' && !restored) throw new Error(`the rebuild did not start from the snapshot:\n${stdout}`);
  await run(process.execPath, [CLI, 'projection', 'drop', projection, done[1]!], { env });
  const r: RebuildRun = {
    projection,
    mode,
    round,
    wallSeconds,
    events: Number(done[2]),
    restoreSeconds: restored ? Number(restored[1]) : null,
  };
  process.stderr.write(
    `  ${projection} ${mode} (round ${round}): ${wallSeconds.toFixed(1)} s, ${r.events.toLocaleString()} events applied\n`,
  );
  return r;
}

async function main(): Promise<void> {
  const setup = await freshSetup();
  const sim = new WalletHistorySimulator({ seed: 20_261_207, wallets: Math.max(1_000, Math.round(EVENTS / 100)) });
  process.stderr.write(`producing ${(AT * 100).toFixed(0)} % of ${EVENTS.toLocaleString()} events to ${setup.topic}\n`);
  const head = await produce(setup, sim, Math.round(EVENTS * AT));

  // The projector's tables and empty live versions; then each measured projection is built to the head by a
  // rebuild, the fastest way there (the live process takes several times longer), and snapshotted.
  process.stderr.write('each projection built to the head by a rebuild, then a snapshot of it\n');
  const env = setupEnv(setup, uniqueName('bench-snapshot'));
  await run(process.execPath, ['dist/services/projector/src/main.js', 'migrate'], { env });
  const snapshots: Record<string, { seconds: number; report: string }> = {};
  for (const p of PROJECTIONS) {
    await run(process.execPath, [CLI, 'projection', 'rebuild', p, '--no-snapshot'], { env });
    const started = performance.now();
    const { stdout } = await run(process.execPath, [CLI, 'projection', 'snapshot', p], { env });
    snapshots[p] = { seconds: (performance.now() - started) / 1000, report: stdout.trim().split('\n').at(-1) ?? '' };
    process.stderr.write(`  ${snapshots[p].report}\n`);
  }

  process.stderr.write('producing the last 10 %\n');
  const total = head + (await produce(setup, sim, EVENTS - head));

  const runs: RebuildRun[] = [];
  for (let round = 1; round <= ROUNDS; round++) {
    const order: RebuildRun['mode'][] = round % 2 === 1 ? ['from 0', 'from snapshot'] : ['from snapshot', 'from 0'];
    for (const p of PROJECTIONS) for (const mode of order) runs.push(await rebuildOnce(env, p, mode, round));
  }
  await dropSetup(setup);

  const median = (xs: number[]) => percentile(xs, 50);
  const rows: (string | number)[][] = [];
  const summary: Record<string, unknown> = {};
  for (const p of PROJECTIONS) {
    const zero = runs.filter((r) => r.projection === p && r.mode === 'from 0');
    const snap = runs.filter((r) => r.projection === p && r.mode === 'from snapshot');
    const z = median(zero.map((r) => r.wallSeconds));
    const s = median(snap.map((r) => r.wallSeconds));
    const restore = median(snap.map((r) => r.restoreSeconds ?? NaN));
    rows.push([p, 'from 0', zero[0]!.events, z, '-', (zero[0]!.events / z).toFixed(0), 1]);
    rows.push([p, 'from snapshot at 90 %', snap[0]!.events, s, restore, '-', (z / s).toFixed(1)]);
    summary[p] = {
      fromZero: { medianSeconds: z, events: zero[0]!.events, runs: zero.map((r) => r.wallSeconds) },
      fromSnapshot: {
        medianSeconds: s,
        events: snap[0]!.events,
        medianRestoreSeconds: restore,
        runs: snap.map((r) => r.wallSeconds),
      },
      speedup: z / s,
      snapshot: snapshots[p],
    };
  }
  printTable(
    `projection rebuild, ${total.toLocaleString()} events (snapshot at ${(AT * 100).toFixed(0)} %), ${PARTITIONS} partitions, medians of ${ROUNDS} alternated runs`,
    ['projection', 'start', 'events applied', 'wall s (median)', 'restore s', 'events/s', 'speed-up'],
    rows,
  );
  for (const p of PROJECTIONS) console.log(`snapshot ${p}: ${snapshots[p]!.seconds.toFixed(1)} s — ${snapshots[p]!.report}`);
  const file = writeResult(`projector-snapshot-${EVENTS}`, {
    events: total,
    snapshotAt: AT,
    rounds: ROUNDS,
    partitions: PARTITIONS,
    projections: summary,
    runs,
  });
  console.log(`\nwrote ${file}`);
}

main().catch((err: unknown) => {
  console.error(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  process.exit(1);
});
