import { readdirSync, readFileSync } from 'node:fs';

/**
 * CPU accounting per process class from /proc: each process's utime+stime
 * before and after a step, PostgreSQL backends mapped to what they serve
 * through pg_stat_activity. Linux only; USER_HZ is 100 there.
 */
export const TICKS_PER_SEC = 100;

/** A process's CPU so far (utime + stime, ticks) and when it started (ticks since boot), from /proc/<pid>/stat. */
export interface ProcStat {
  comm: string;
  ticks: number;
  /** cutime + cstime: ended children waited for (the postmaster's ended backends). */
  childTicks: number;
  startTicks: number;
}

/** Parses /proc/<pid>/stat; the command name may hold spaces and parentheses, so fields count from the last ')'. */
export function parseProcStat(text: string): ProcStat {
  const close = text.lastIndexOf(')');
  const comm = text.slice(text.indexOf('(') + 1, close);
  const f = text.slice(close + 2).split(' ');
  // f[0] is field 3 (state): utime is field 14, stime 15, cutime 16, cstime 17, starttime 22.
  return {
    comm,
    ticks: Number(f[11]) + Number(f[12]),
    childTicks: Number(f[13]) + Number(f[14]),
    startTicks: Number(f[19]),
  };
}

export function readProcStat(pid: number): ProcStat | undefined {
  try {
    return parseProcStat(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return undefined; // ended
  }
}

/** Busy and all ticks of the whole machine, from the first line of /proc/stat. */
export function parseMachineStat(text: string): { busy: number; total: number } {
  const line = text.slice(0, text.indexOf('\n'));
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal (guest time is already in user)
  const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = v;
  const busy = user + nice + system + irq + softirq + steal;
  return { busy, total: busy + idle + iowait };
}

export function readMachineStat(): { busy: number; total: number } {
  return parseMachineStat(readFileSync('/proc/stat', 'utf8'));
}

/** Seconds since boot, to compare with a process's start ticks. */
export function uptimeTicks(): number {
  return Math.round(Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]) * TICKS_PER_SEC);
}

/** Pids whose command line matches, e.g. the Kafka broker's JVM (kafka.Kafka) or the registry's (apicurio). */
export function findProcesses(match: (cmdline: string) => boolean): number[] {
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      if (match(readFileSync(`/proc/${d}/cmdline`, 'utf8').replace(/\0/g, ' '))) out.push(Number(d));
    } catch {
      // ended
    }
  }
  return out;
}

/** Every process named postgres (the postmaster, its background processes and backends). */
export function postgresPids(): number[] {
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    const stat = readProcStat(Number(d));
    if (stat?.comm === 'postgres') out.push(Number(d));
  }
  return out;
}

/** One row of pg_stat_activity, as the classifier needs it. */
export interface Backend {
  pid: number;
  datname: string | null;
  applicationName: string;
  backendType: string;
}

/** The schema registry's own database (deploy/local/registry.sh). */
const REGISTRY_DATABASE = 'sluice_registry';

/** Background processes of the server, whatever database: the cost every write shares. */
const BACKGROUND: Record<string, string> = {
  checkpointer: 'pg checkpointer/bgwriter/walwriter',
  'background writer': 'pg checkpointer/bgwriter/walwriter',
  walwriter: 'pg checkpointer/bgwriter/walwriter',
  'autovacuum launcher': 'pg autovacuum',
  'logical replication launcher': 'pg other',
  archiver: 'pg other',
};

/**
 * What a PostgreSQL backend works for. Backends of other databases (a
 * `make up` next to the bench, other test runs) are 'pg other databases',
 * which the platform's sum leaves out; the server's background processes
 * count for every database.
 */
export function classifyBackend(b: Backend, database: string): string {
  const background = BACKGROUND[b.backendType];
  if (background) return background;
  if (b.datname === REGISTRY_DATABASE) return 'pg registry';
  if (b.datname !== database) return 'pg other databases';
  if (b.backendType === 'autovacuum worker') return 'pg autovacuum';
  if (b.backendType === 'walsender') return 'pg walsender (relay)';
  const app = b.applicationName;
  if (app.startsWith('sluice-command-api')) return 'pg command-api';
  if (app.startsWith('sluice-outbox-relay')) return 'pg relay';
  if (app.startsWith('sluice-projector')) return 'pg projector';
  if (app.startsWith('sluice-query-api')) return 'pg query-api';
  if (app.startsWith('sluice-payments-worker')) return 'pg payments-worker';
  if (app.startsWith('sluice-bonus')) return 'pg bonus-service';
  if (app.startsWith('sluice-bench')) return 'pg bench';
  return 'pg other';
}

/** Every class in report order: each service, then the PostgreSQL backends serving it. */
export const CLASS_ORDER = [
  'command-api',
  'pg command-api',
  'outbox-relay',
  'pg walsender (relay)',
  'pg relay',
  'kafka broker',
  'registry',
  'pg registry',
  'projector',
  'pg projector',
  'query-api',
  'pg query-api',
  'payments-worker',
  'pg payments-worker',
  'bonus-service',
  'pg bonus-service',
  'psp-simulator',
  'pg autovacuum',
  'pg checkpointer/bgwriter/walwriter',
  'pg other',
  'generator',
  'pg bench',
  'pg other databases',
] as const;

/** Classes that are not the platform's cost: the generator's side, and other work on a shared machine. */
export const NOT_PLATFORM = new Set(['generator', 'pg bench', 'pg other databases']);

/** A process seen during a window: its class, its CPU when the window opened (or 0, started inside it), and last seen. */
interface Tracked {
  cls: string;
  from: number;
  last: number;
}

/**
 * CPU per class over a window. Call open() at its start, sample() every
 * second or so (a backend that starts and ends between samples goes
 * uncounted: the platform's pools keep their connections, so those are rare)
 * and close() at its end, which returns CPU ms per class.
 */
export class CpuWindow {
  private readonly tracked = new Map<number, Tracked>();
  private openedAt = 0;

  constructor(private readonly read: (pid: number) => ProcStat | undefined = readProcStat) {}

  open(processes: ReadonlyMap<number, string>, nowTicks: number): void {
    this.tracked.clear();
    this.openedAt = nowTicks;
    for (const [pid, cls] of processes) {
      const s = this.read(pid);
      if (s) this.tracked.set(pid, { cls, from: s.ticks, last: s.ticks });
    }
  }

  /** Sees the processes alive now: known ones move on, new ones count from 0 if they started inside the window. */
  sample(processes: ReadonlyMap<number, string>): void {
    for (const [pid, cls] of processes) {
      const s = this.read(pid);
      if (!s) continue;
      const t = this.tracked.get(pid);
      if (t) {
        t.last = s.ticks;
        // A pid reused by a new process inside the window.
        if (s.ticks < t.from) t.from = 0;
      } else {
        this.tracked.set(pid, { cls, from: s.startTicks >= this.openedAt ? 0 : s.ticks, last: s.ticks });
      }
    }
  }

  close(processes: ReadonlyMap<number, string>): Map<string, number> {
    this.sample(processes);
    const ms = new Map<string, number>();
    for (const t of this.tracked.values()) {
      ms.set(t.cls, (ms.get(t.cls) ?? 0) + ((t.last - t.from) * 1000) / TICKS_PER_SEC);
    }
    return ms;
  }
}

/** The platform's CPU: every class but the generator's and other databases'. */
export function platformTotal(ms: ReadonlyMap<string, number>): number {
  let total = 0;
  for (const [cls, v] of ms) if (!NOT_PLATFORM.has(cls)) total += v;
  return total;
}
