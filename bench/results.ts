import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join, resolve } from 'node:path';

/** Writes a benchmark's result with the machine it ran on, under bench/results/. */
export function writeResult(name: string, result: unknown): string {
  const dir = resolve(__dirname, '../../bench/results');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${name}.json`);
  const machine = {
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
  };
  writeFileSync(file, `${JSON.stringify({ name, at: new Date().toISOString(), machine, result }, null, 2)}\n`);
  return file;
}
