import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeResult } from '../results';
import { extent, printTable } from '../stats';

/**
 * Lines up a bench's slow requests with what held the service up at the time
 * (stalls.ts): slow requests are grouped into clusters (no gap over 200 ms),
 * and each cluster is shown with the stalls and collection pauses from 80 ms
 * before its first request to 30 ms after its last. The summary says how many
 * slow requests fell in clusters with a stall, and how much of the stalled
 * time the process spent busy.
 *   node dist/bench/probes/correlate.js <samples.csv> <stall log dir> [--over 25]
 * samples.csv: one request per line, "<intended send, epoch ms>,<latency ms>,<status>"
 * (throughput.js --samples <dir> writes one per step).
 */

export interface RequestSample {
  at: number;
  latencyMs: number;
}

export interface Hold {
  kind: 'stall' | 'gc';
  at: number;
  ms: number;
  cpuMs?: number;
  type?: string;
}

export interface Cluster {
  from: number;
  to: number;
  requests: number;
  maxLatencyMs: number;
  holds: Hold[];
}

const GAP_MS = 200;
const BEFORE_MS = 80;
const AFTER_MS = 30;

/** Groups requests slower than `overMs` into clusters and attaches the holds around each. */
export function clusters(samples: readonly RequestSample[], holds: readonly Hold[], overMs: number): Cluster[] {
  const slow = samples.filter((s) => s.latencyMs > overMs).sort((a, b) => a.at - b.at);
  const out: Cluster[] = [];
  for (const s of slow) {
    const last = out.at(-1);
    if (last && s.at - last.to <= GAP_MS) {
      last.to = s.at;
      last.requests += 1;
      last.maxLatencyMs = Math.max(last.maxLatencyMs, s.latencyMs);
    } else {
      out.push({ from: s.at, to: s.at, requests: 1, maxLatencyMs: s.latencyMs, holds: [] });
    }
  }
  const sorted = [...holds].sort((a, b) => a.at - b.at);
  for (const c of out) c.holds = sorted.filter((h) => h.at >= c.from - BEFORE_MS && h.at <= c.to + AFTER_MS);
  return out;
}

export function summary(all: readonly Cluster[]): {
  clusters: number;
  slowRequests: number;
  inClustersWithStall: number;
  stalledMs: number;
  stalledBusyMs: number;
  gcMs: number;
} {
  let slowRequests = 0;
  let inClustersWithStall = 0;
  let stalledMs = 0;
  let stalledBusyMs = 0;
  let gcMs = 0;
  for (const c of all) {
    slowRequests += c.requests;
    const stalls = c.holds.filter((h) => h.kind === 'stall');
    if (stalls.length > 0) inClustersWithStall += c.requests;
    for (const h of stalls) {
      stalledMs += h.ms;
      stalledBusyMs += Math.min(h.ms, h.cpuMs ?? 0);
    }
    for (const h of c.holds) if (h.kind === 'gc') gcMs += h.ms;
  }
  return { clusters: all.length, slowRequests, inClustersWithStall, stalledMs, stalledBusyMs, gcMs };
}

function readSamples(file: string): RequestSample[] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [at, latency] = line.split(',');
      return { at: Number(at), latencyMs: Number(latency) };
    });
}

function readHolds(dir: string): Hold[] {
  return readdirSync(dir)
    .filter((f) => f.startsWith('stalls-') && f.endsWith('.jsonl'))
    .flatMap((f) =>
      readFileSync(join(dir, f), 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line) as Hold),
    );
}

function main(): void {
  const [samplesFile, holdsDir] = process.argv.slice(2);
  if (!samplesFile || !holdsDir) throw new Error('usage: correlate.js <samples.csv> <stall log dir> [--over 25]');
  const i = process.argv.indexOf('--over');
  const overMs = i > 0 ? Number(process.argv[i + 1]) : 25;
  const samples = readSamples(samplesFile);
  const start = extent(samples.map((s) => s.at)).min;
  const found = clusters(samples, readHolds(holdsDir), overMs);
  const describe = (h: Hold) =>
    `${h.kind}${h.type ? `:${h.type}` : ''}@${h.at - start} ${h.ms}${h.cpuMs === undefined ? '' : `/${h.cpuMs}cpu`}`;
  printTable(
    `requests over ${overMs} ms in clusters, with the service's stalls and collection pauses (ms from the first request)`,
    ['from', 'to', 'requests', 'max ms', 'holds (kind@at ms[/cpu])'],
    found.map((c) => [c.from - start, c.to - start, c.requests, c.maxLatencyMs, c.holds.map(describe).join(' ')]),
  );
  const s = summary(found);
  console.log(
    `\n${s.slowRequests} of ${samples.length} requests over ${overMs} ms in ${s.clusters} clusters; ${s.inClustersWithStall} in clusters with a stall; ` +
      `stalled ${s.stalledMs.toFixed(0)} ms (busy ${s.stalledBusyMs.toFixed(0)}), collecting ${s.gcMs.toFixed(0)} ms`,
  );
  console.log(`wrote ${writeResult('stall-correlation', { overMs, samples: samples.length, summary: s, clusters: found })}`);
}

if (require.main === module) main();
