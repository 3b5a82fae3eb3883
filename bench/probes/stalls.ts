import { mkdirSync, openSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { constants, PerformanceObserver, type PerformanceEntry } from 'node:perf_hooks';

/**
 * Loaded into a service under a bench (node -r), records what holds its event
 * loop up, with wall-clock times, one JSON line each, in
 * $SLUICE_STALL_LOG_DIR/stalls-<pid>.jsonl:
 *   {"kind":"stall","at":<epoch ms>,"ms":<how long>,"cpuMs":<process CPU in it>}
 *     a 2 ms timer that fired more than STALL_MIN_MS late; cpuMs close to ms
 *     means the process was busy (its own work or its collector), far below
 *     it means it waited for a core;
 *   {"kind":"gc","at":<epoch ms>,"ms":<pause>,"type":"minor|major|incremental|weakcb"}
 *     garbage-collection pauses over GC_MIN_MS.
 * correlate.ts lines them up with a bench's slow requests. For example:
 *   SLUICE_STALL_LOG_DIR=/tmp/stalls SLUICE_SERVICE_NODE_ARGS="-r ./dist/bench/probes/stalls.js" \
 *     node dist/bench/command-api/throughput.js --start 3000 --max 3000 --step-sec 30 --samples /tmp/stalls
 */
const STALL_MIN_MS = 5;
const GC_MIN_MS = 2;
const TICK_MS = 2;
const GC_TYPES: Record<number, string> = {
  [constants.NODE_PERFORMANCE_GC_MINOR]: 'minor',
  [constants.NODE_PERFORMANCE_GC_MAJOR]: 'major',
  [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental',
  [constants.NODE_PERFORMANCE_GC_WEAKCB]: 'weakcb',
};

const dir = process.env.SLUICE_STALL_LOG_DIR;
if (dir) {
  mkdirSync(dir, { recursive: true });
  const fd = openSync(join(dir, `stalls-${process.pid}.jsonl`), 'a');
  const write = (entry: Record<string, unknown>) => writeSync(fd, `${JSON.stringify(entry)}\n`);

  let lastAt = performance.now();
  let lastCpu = process.cpuUsage();
  setInterval(() => {
    const now = performance.now();
    const cpu = process.cpuUsage();
    const ms = now - lastAt;
    if (ms - TICK_MS > STALL_MIN_MS) {
      const cpuMs = (cpu.user - lastCpu.user + cpu.system - lastCpu.system) / 1000;
      write({ kind: 'stall', at: Math.round(performance.timeOrigin + lastAt), ms: round(ms), cpuMs: round(cpuMs) });
    }
    lastAt = now;
    lastCpu = cpu;
  }, TICK_MS).unref();

  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      if (e.duration <= GC_MIN_MS) continue;
      // Node's types declare `detail` on marks and measures only; a gc entry carries { kind, flags } there.
      const kind = (e as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind ?? 0;
      write({
        kind: 'gc',
        at: Math.round(performance.timeOrigin + e.startTime),
        ms: round(e.duration),
        type: GC_TYPES[kind] ?? String(kind),
      });
    }
  }).observe({ entryTypes: ['gc'] });
}

function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}
