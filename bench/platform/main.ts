import { writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { generatorFirst } from '../command-api/harness';
import { writeResult } from '../results';
import { printTable } from '../stats';
import { parseArgs } from './args';
import { capacity, median } from './capacity';
import { runReferences } from './references';
import { buildCapacity, chart, comparisonTable, cpuTable, markdownTable, stepsTable, type Table } from './report';
import { runBuild, type BenchBuild, type BuildRound } from './run';
import { warmBroker } from './settle';

/**
 * The whole platform under load, as `make up` runs it (libs/platform's
 * description, every service with its defaults) but in its own database,
 * topics, groups, slot and ports, so it runs beside make up. An open-model
 * generator offers deposits at each rate of --rates for --step-seconds; per
 * step: accepted rate, API and commit→visible latency (per hop, for the
 * deposits of wallets on the first --sample-partitions partitions), errors,
 * and the CPU of every process per deposit. The capacity is the highest step,
 * every step below it passing, with API p99 <= 50 ms, commit→visible p99 <=
 * 250 ms and nothing but 201s; a step at half of it gives the CPU per deposit
 * the second figure is made of. With --baseline, another checkout's
 * build runs the same steps in alternating rounds; each --variant runs this
 * build again with some settings changed, to price one feature by its switch.
 *   node dist/bench/platform/main.js --rates 100,200,400,800 --step-seconds 20 [--replicas 2] [--baseline ../old --rounds 3]
 *     [--variant no-access-log:HTTP_ACCESS_LOG=false ...]
 * Progress goes to stderr; tables to stdout; JSON, Markdown and SVG to bench/results/platform.*.
 */
const say = (line: string) => process.stderr.write(`${line}\n`);

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const root = resolve(__dirname, '../../..');
  const self: BenchBuild = { name: 'this build', root };
  const builds: BenchBuild[] = [self];
  if (args.baseline) builds.push({ name: 'baseline', root: resolve(args.baseline) });
  for (const v of args.variants) builds.push({ name: v.name, root, env: v.env });
  const generatorEven = generatorFirst();
  if (args.brokerWarmupSeconds > 0) {
    say(`warming the broker for ${args.brokerWarmupSeconds} s (no build pays for a cold JVM)`);
    await warmBroker(args.brokerWarmupSeconds, say);
  }
  const runs: BuildRound[] = [];
  const halfRates: number[] = [];
  for (let round = 1; round <= args.rounds; round++) {
    // Rounds alternate the order of the builds; all run the half step at this build's half capacity of the round.
    const order = round % 2 === 1 ? builds : [...builds].reverse();
    let half: number | undefined;
    for (const build of order) {
      const isThis = build === self;
      const run = await runBuild(
        args,
        build,
        round,
        (steps) => {
          if (isThis || half === undefined) {
            const cap = capacity(steps).capacity;
            const h = Math.max(1, Math.round((cap > 0 ? cap : args.rates[0]!) / 2));
            if (isThis) half = h;
            return h;
          }
          return half;
        },
        say,
      );
      if (isThis && run.half) halfRates.push(run.half.offered);
      runs.push(run);
    }
  }
  const mine = runs.filter((r) => r.build === self.name);
  const others = builds.slice(1).map((b) => ({ name: b.name, runs: runs.filter((r) => r.build === b.name) }));
  const cap = buildCapacity(mine);
  const halfRate = Math.round(median(halfRates));
  generatorEven();
  const refs = args.references ? await runReferences(halfRate, args.stepSeconds, args.wallets, args.connections, say) : undefined;

  const halfCpu = median(mine.map((r) => r.half?.platformCpuPerUnit ?? NaN));
  const aloneCpu = refs ? refs.alone.apiCpuMs + refs.alone.pgCpuMs : NaN;
  const ratios = {
    capacityOverPgbench: refs ? cap.median / refs.pgbench.tps : NaN,
    halfCpuOverAlone: halfCpu / aloneCpu,
  };

  const sections: { title: string; table: Table }[] = [];
  for (const run of runs)
    sections.push({
      title: `${run.build}, round ${run.round}: steps (latency in ms; machine busy ${Math.round(run.machineBusyBefore)} ms/s before it started)`,
      table: stepsTable(run),
    });
  sections.push({ title: 'this build: CPU per process (idle: ms per second; steps: ms per deposit)', table: cpuTable(mine) });
  for (const other of others) {
    sections.push({
      title: `${other.name}: CPU per process (idle: ms per second; steps: ms per deposit)`,
      table: cpuTable(other.runs),
    });
    sections.push({
      title: `this build against ${other.name} (${args.rounds} rounds, medians)`,
      table: comparisonTable(mine, other.runs, other.name),
    });
  }
  const summary: Table = {
    header: ['figure', 'value', 'target'],
    rows: [
      [
        'capacity (deposits/s; API p99 <= 50 ms, visible p99 <= 250 ms, only 201s)',
        `${cap.median} (rounds: ${cap.rounds.join(', ')})`,
        '',
      ],
      ['pgbench, same deposit transaction, 10 connections (tx/s)', refs?.pgbench.tps ?? '–', ''],
      ['capacity / pgbench', Number(ratios.capacityOverPgbench.toFixed(3)), '>= 0.5'],
      [`platform CPU per deposit at half capacity (${halfRate}/s), ms`, Number(halfCpu.toFixed(3)), ''],
      [
        `command API alone at ${halfRate}/s: API + its PostgreSQL CPU per deposit, ms`,
        refs ? `${refs.alone.apiCpuMs.toFixed(3)} + ${refs.alone.pgCpuMs.toFixed(3)} = ${aloneCpu.toFixed(3)}` : '–',
        '',
      ],
      ['platform at half capacity / API+PG alone', Number(ratios.halfCpuOverAlone.toFixed(3)), '<= 1.5'],
    ],
  };
  sections.push({ title: 'the issue’s figures', table: summary });
  for (const s of sections) printTable(s.title, s.table.header, s.table.rows);

  const file = writeResult('platform', { args, runs, capacity: cap, halfRate, references: refs, ratios });
  const dir = dirname(file);
  const md = [
    `# Platform benchmark (${new Date().toISOString()})`,
    '',
    `\`node dist/bench/platform/main.js ${process.argv.slice(2).join(' ')}\``,
    '',
    ...sections.flatMap((s) => [`## ${s.title}`, '', markdownTable(s.table), '']),
  ].join('\n');
  writeFileSync(join(dir, 'platform.md'), md);
  writeFileSync(join(dir, 'platform.svg'), chart([{ name: self.name, runs: mine }, ...others]));
  console.log(`\nwrote ${file}, platform.md and platform.svg beside it`);
}

main().catch((err: unknown) => {
  console.error(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  process.exit(1);
});
