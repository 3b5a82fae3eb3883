import { setTimeout as sleep } from 'node:timers/promises';
import type { LoadRequest, LoadResponse, LoadTarget } from './http-target';
import { problemCode, Recorder } from './recorder';

/** A stretch of an open-model run: arrivals per second for so long. */
export interface Phase {
  name: string;
  ratePerSec: number;
  durationSec: number;
}

export interface RunHooks {
  /** Builds request number i (unique ids, keys, bodies). */
  request: (i: number, phase: string) => LoadRequest;
  /** Sees every response (to collect ids of accepted writes, say). */
  onResponse?: (i: number, req: LoadRequest, res: LoadResponse, phase: string) => void;
  /** Called about once a second with a one-line status; defaults to stderr. */
  progress?: (line: string) => void;
}

/**
 * Open model: requests arrive on a fixed schedule (constant rate per phase,
 * so a burst is a phase at a higher rate) whether or not earlier ones have
 * been answered, the way independent users arrive. Each latency is measured
 * from the request's intended send time, so when the server (or the
 * generator) falls behind, the queueing shows in the numbers instead of
 * silently lowering the offered load (coordinated omission).
 */
export async function runOpenModel(target: LoadTarget, phases: readonly Phase[], hooks: RunHooks): Promise<Recorder> {
  const rec = new Recorder();
  const start = performance.now();
  rec.startedAtEpochMs = performance.timeOrigin + start;
  const inFlight = new Set<Promise<void>>();
  const progress = startProgress(rec, start, () => inFlight.size, hooks.progress);
  let i = 0;
  let phaseStart = 0;
  try {
    for (const phase of phases) {
      const total = Math.round(phase.ratePerSec * phase.durationSec);
      const interval = 1000 / phase.ratePerSec;
      for (let k = 0; k < total; k++, i++) {
        const intendedAt = phaseStart + k * interval;
        const wait = intendedAt - (performance.now() - start);
        if (wait > 1) await sleep(wait);
        else if (k % 64 === 63) await new Promise<void>((r) => setImmediate(r)); // let responses in
        const sentAt = performance.now() - start;
        rec.sendLag.push(Math.max(0, sentAt - intendedAt));
        const n = i;
        const req = hooks.request(n, phase.name);
        const p = target.send(req).then((res) => {
          rec.add({
            intendedAt,
            latencyMs: performance.now() - start - intendedAt,
            status: res.status,
            hasRetryAfter: res.retryAfter !== undefined,
            phase: phase.name,
            code: problemCode(res.status, res.body),
          });
          hooks.onResponse?.(n, req, res, phase.name);
        });
        inFlight.add(p);
        void p.finally(() => inFlight.delete(p));
      }
      phaseStart += phase.durationSec * 1000;
    }
    await Promise.all(inFlight);
  } finally {
    clearInterval(progress);
  }
  return rec;
}

/**
 * Closed model: a fixed number of virtual users, each sending its next
 * request when the previous one was answered (plus think time). It measures
 * what a bounded client population gets; its arrival rate falls as latency
 * rises, which is why bursts are tested with the open model.
 */
export async function runClosedModel(
  target: LoadTarget,
  options: { users: number; durationSec: number; thinkMs?: number; phase?: string },
  hooks: RunHooks,
): Promise<Recorder> {
  const rec = new Recorder();
  const start = performance.now();
  const end = start + options.durationSec * 1000;
  const phase = options.phase ?? 'closed';
  let i = 0;
  let active = 0;
  const progress = startProgress(rec, start, () => active, hooks.progress);
  try {
    await Promise.all(
      Array.from({ length: options.users }, async () => {
        while (performance.now() < end) {
          const n = i++;
          const req = hooks.request(n, phase);
          const sentAt = performance.now() - start;
          active++;
          const res = await target.send(req);
          active--;
          rec.add({
            intendedAt: sentAt,
            latencyMs: performance.now() - start - sentAt,
            status: res.status,
            hasRetryAfter: res.retryAfter !== undefined,
            phase,
            code: problemCode(res.status, res.body),
          });
          hooks.onResponse?.(n, req, res, phase);
          if (options.thinkMs) await sleep(options.thinkMs);
        }
      }),
    );
  } finally {
    clearInterval(progress);
  }
  return rec;
}

function startProgress(rec: Recorder, start: number, inFlight: () => number, out?: (line: string) => void): NodeJS.Timeout {
  const print = out ?? ((line: string) => process.stderr.write(`${line}\n`));
  let seen = 0;
  return setInterval(() => {
    const recent = rec.samples.slice(seen);
    seen = rec.samples.length;
    const ok = recent.filter((s) => s.status >= 200 && s.status < 300);
    const lat = ok.map((s) => s.latencyMs).sort((a, b) => a - b);
    const p99 = lat.length ? lat[Math.min(lat.length - 1, Math.ceil(0.99 * lat.length) - 1)]! : NaN;
    const refused = recent.filter((s) => s.status === 429 || s.status === 503).length;
    const failed = recent.length - ok.length - refused;
    print(
      `  t=${((performance.now() - start) / 1000).toFixed(0)}s  done/s=${recent.length}  2xx=${ok.length}  429/503=${refused}  other=${failed}  in-flight=${inFlight()}  2xx p99=${p99.toFixed(1)}ms`,
    );
  }, 1000);
}
