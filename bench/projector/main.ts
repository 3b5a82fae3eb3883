import { setTimeout as sleep } from 'node:timers/promises';
import { freePort, startService, uniqueName } from '@sluice/testing';
import { writeResult } from '../results';
import { printTable } from '../stats';
import {
  batchStats,
  buildingVersion,
  consumerPerfTest,
  copyCeiling,
  liveVersions,
  run,
  setupEnv,
  timeUntilApplied,
  type Rate,
} from './measure';
import { dropSetup, freshSetup, produceHistories } from './setup';

/**
 * The projector's throughput over N events (default 1,000,000) of simulated
 * wallet histories on a 12-partition topic, beside two ceilings measured in
 * the same run on the same machine:
 * - Kafka's own consumer (kafka-consumer-perf-test) reading the topic;
 * - COPY of one row per event into an empty table shaped like the history's;
 * - live: the projector process applying the backlog to all three read models
 *   (wallet, transactions, withdrawals) in one consumer group, each batch one
 *   transaction with its checkpoints, notifications on;
 * - rebuild: `sluice projection rebuild` of the wallet and of the transaction
 *   history, beside the live version, until each switches.
 * Rates over the wall time run from starting the process (start-up, group
 * join and the first fetch included) to the last record applied; the steady
 * rate is the slope between 10 % and 90 % applied. The live target is checked
 * against the steady rate (a service's throughput once running), the rebuild
 * target against the wall time (how long the command takes).
 *   node dist/bench/projector/main.js [events=1000000]
 */
const EVENTS = Number(process.argv[2] ?? 1_000_000);
const TARGETS = { live: 10_000, rebuild: 25_000 };

function progressLine(label: string, total: number): (n: number) => void {
  let shown = 0;
  const started = performance.now();
  return (n) => {
    if (n - shown < total / 20 && n < total) return;
    shown = n;
    const s = (performance.now() - started) / 1000;
    process.stderr.write(
      `  ${label}: ${n.toLocaleString()}/${total.toLocaleString()} (${Math.round(n / Math.max(s, 0.001)).toLocaleString()}/s)\n`,
    );
  };
}

async function main(): Promise<void> {
  const setup = await freshSetup();
  process.stderr.write(`producing ${EVENTS.toLocaleString()} events to ${setup.topic}\n`);
  const produced = await produceHistories(setup, EVENTS, progressLine('produced', EVENTS));
  process.stderr.write(
    `  ${produced.wallets.toLocaleString()} wallets, ${produced.historyItems.toLocaleString()} history items, ${(produced.bytes / EVENTS).toFixed(0)}-byte values\n`,
  );

  process.stderr.write('kafka-consumer-perf-test (ceiling)\n');
  const perf = await consumerPerfTest(setup.topic, EVENTS);

  process.stderr.write('live: the projector process, three projections, one consumer group\n');
  const group = uniqueName('bench-projector');
  const env = setupEnv(setup, group);
  const port = await freePort();
  const liveStarted = performance.now();
  const projector = startService('projector', env, port);
  const live = await timeUntilApplied(
    setup.url,
    () => liveVersions(setup.url),
    EVENTS,
    liveStarted,
    progressLine('live applied', EVENTS),
  );
  const liveBatches = await batchStats(`http://127.0.0.1:${port}/metrics`);

  const rebuilds: Record<string, Rate & { cliReport: string }> = {};
  for (const projection of ['wallet', 'transactions']) {
    process.stderr.write(`rebuild: sluice projection rebuild ${projection} (the live projector keeps running)\n`);
    const started = performance.now();
    const cli = run(process.execPath, ['dist/services/cli/src/main.js', 'projection', 'rebuild', projection], { env });
    const rate = await timeUntilApplied(
      setup.url,
      () => buildingVersion(setup.url, projection),
      EVENTS,
      started,
      progressLine(`rebuild ${projection}`, EVENTS),
    );
    const { stdout } = await cli;
    rebuilds[projection] = {
      ...rate,
      cliReport:
        stdout
          .trim()
          .split('\n')
          .find((l) => l.includes(' is live')) ?? '',
    };
  }
  await projector.kill('SIGTERM');
  await sleep(100);

  process.stderr.write('COPY into an empty table (ceiling)\n');
  const copy = await copyCeiling(setup.url, EVENTS);
  await dropSetup(setup);

  const verdict = (rate: number, target: number) => `${rate >= target ? 'meets' : 'misses'} ${target.toLocaleString()}/s`;
  const rows: (string | number)[][] = [
    [
      'kafka-consumer-perf-test (ceiling)',
      Math.round(perf.fetchEventsPerSecond),
      perf.seconds,
      '-',
      '-',
      1,
      perf.fetchEventsPerSecond / copy.rowsPerSecond,
    ],
    [
      'COPY one row per event (ceiling)',
      Math.round(copy.rowsPerSecond),
      copy.seconds,
      '-',
      '-',
      copy.rowsPerSecond / perf.fetchEventsPerSecond,
      1,
    ],
  ];
  // A live projector is judged by the rate it keeps once running; a rebuild by how long the command takes.
  const measured = (label: string, r: Rate, checked: number, target: number): (string | number)[] => [
    label,
    Math.round(r.eventsPerSecond),
    r.wallSeconds,
    Math.round(r.steadyEventsPerSecond),
    verdict(checked, target),
    r.steadyEventsPerSecond / perf.fetchEventsPerSecond,
    r.steadyEventsPerSecond / copy.rowsPerSecond,
  ];
  rows.push(measured('live: 3 read models, one group', live, live.steadyEventsPerSecond, TARGETS.live));
  for (const [name, r] of Object.entries(rebuilds)) rows.push(measured(`rebuild ${name}`, r, r.eventsPerSecond, TARGETS.rebuild));
  printTable(
    `projector throughput, ${EVENTS.toLocaleString()} events, 12 partitions, one machine`,
    [
      'measure',
      'events/s (wall)',
      'wall s',
      'steady events/s (10-90 %)',
      'target (live: steady; rebuild: wall)',
      'steady vs Kafka',
      'steady vs COPY',
    ],
    rows,
  );
  console.log(
    `\nlive batches: ${liveBatches.meanBatchSize.toFixed(0)} events on average, ${liveBatches.meanBatchMs.toFixed(1)} ms each (wallet projection)`,
  );
  for (const [name, r] of Object.entries(rebuilds)) console.log(`sluice projection rebuild ${name}: ${r.cliReport}`);
  const file = writeResult('projector', {
    events: EVENTS,
    produced,
    ceilings: { kafkaConsumerPerfTest: perf, copy },
    live: { ...live, ...liveBatches },
    rebuild: rebuilds,
    targets: TARGETS,
  });
  console.log(`\nwrote ${file}`);
}

main().catch((err: unknown) => {
  console.error(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  process.exit(1);
});
