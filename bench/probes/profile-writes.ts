import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeResult } from '../results';
import { printTable } from '../stats';

/**
 * How much of each process's CPU went into writing to sockets, from the V8 CPU
 * profiles of a run (`NODE_OPTIONS="--cpu-prof --cpu-prof-dir=<dir>"` on the
 * platform benchmark profiles every service it starts): per profile, the busy
 * time (every sample but idle) and the part of it in the native socket-write
 * calls (writev, writeBuffer, write*String: the system call, and TLS's
 * encryption when the socket is TLS). Name a profile by its pid: the benchmark
 * prints each service's pid as it starts it.
 *   node dist/bench/probes/profile-writes.js <profile dir>
 */

interface ProfileNode {
  id: number;
  callFrame: { functionName: string };
}

export interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export interface WriteShare {
  busyMs: number;
  writeMs: number;
}

const WRITES = new Set(['writev', 'writeBuffer', 'writeUtf8String', 'writeLatin1String', 'writeAsciiString', 'writeUcs2String']);

/** Busy and socket-write time of one profile: each sample lasts until the next one. */
export function writeShare(profile: CpuProfile): WriteShare {
  const names = new Map(profile.nodes.map((n) => [n.id, n.callFrame.functionName]));
  let busyUs = 0;
  let writeUs = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const name = names.get(profile.samples[i]!);
    const us = profile.timeDeltas[i + 1] ?? 0;
    if (name === '(idle)') continue;
    busyUs += us;
    if (name !== undefined && WRITES.has(name)) writeUs += us;
  }
  return { busyMs: busyUs / 1_000, writeMs: writeUs / 1_000 };
}

function main(dir: string): void {
  const rows = readdirSync(dir)
    .filter((f) => f.endsWith('.cpuprofile'))
    .map((f) => ({ pid: f.split('.')[3] ?? f, ...writeShare(JSON.parse(readFileSync(join(dir, f), 'utf8')) as CpuProfile) }))
    .sort((a, b) => b.busyMs - a.busyMs);
  printTable(
    `socket writes in each profiled process (${dir})`,
    ['pid', 'busy ms', 'in socket writes ms', 'share'],
    rows.map((r) => [
      r.pid,
      r.busyMs.toFixed(0),
      r.writeMs.toFixed(0),
      `${((100 * r.writeMs) / Math.max(r.busyMs, 1)).toFixed(1)} %`,
    ]),
  );
  console.log(`\nwrote ${writeResult('probe-profile-writes', { dir, processes: rows })}`);
}

if (require.main === module) {
  const dir = process.argv[2];
  if (!dir) {
    console.error('usage: node dist/bench/probes/profile-writes.js <profile dir>');
    process.exit(2);
  }
  main(dir);
}
