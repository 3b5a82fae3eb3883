/** A Sluice service as the platform runs it: one built entry point, one port for HTTP (health and metrics at least). */
export interface PlatformService {
  name: string;
  /** Built entry point, relative to the repository root. */
  entry: string;
  /** The port of its first process; replica i listens on port + REPLICA_PORT_STEP·i. */
  port: number;
  /**
   * Whether more than one process may run: every service but the PSP simulator, which stands
   * in for one external provider (its payouts and webhooks live in its memory).
   */
  scalable: boolean;
  /**
   * Its CPU class on a shared host: `front` answers clients (its latency is the SLO), `background`
   * consumes and catches up (its lag has a budget, and it batches more when it waits). The local
   * launchers run background processes at BACKGROUND_NICENESS; in Kubernetes the same split is the
   * CPU requests (deploy/k8s), which set the CPU shares under contention.
   */
  cpu: 'front' | 'background';
}

/**
 * The niceness (setpriority) of background processes when they share the host with the front
 * door. At 10 a busy front process gets about ten times the CPU of a busy background one
 * (CFS weights 1024 : 110), and a woken front process preempts background work at once;
 * idle CPU still goes to whoever wants it.
 */
export const BACKGROUND_NICENESS = 10;

/**
 * Lowers a started background process's priority to BACKGROUND_NICENESS, unless
 * SLUICE_CPU_CLASSES=off in `env` (every process then runs at the launcher's niceness).
 * Returns the niceness set, or undefined when none was.
 */
export function applyCpuClass(
  pid: number | undefined,
  service: PlatformService,
  env: Record<string, string | undefined>,
  setPriority: (pid: number, priority: number) => void,
): number | undefined {
  const setting = env.SLUICE_CPU_CLASSES ?? 'on';
  if (setting !== 'on' && setting !== 'off') throw new RangeError(`SLUICE_CPU_CLASSES must be on or off, got ${setting}`);
  if (setting === 'off' || service.cpu !== 'background' || pid === undefined) return undefined;
  setPriority(pid, BACKGROUND_NICENESS);
  return BACKGROUND_NICENESS;
}

/** Replica i of a service listens this many ports above replica 0 (3000, 3100, 3200…). */
export const REPLICA_PORT_STEP = 100;

/**
 * Every service of the platform, in start order (command API first: it
 * migrates the command tables and creates the outbox's slot, which the relay
 * reads). `make up` (deploy/local) and the platform benchmark both run this
 * list, each service with its own defaults (its config schema holds them).
 */
export const PLATFORM_SERVICES: readonly PlatformService[] = [
  { name: 'command-api', entry: 'dist/services/command-api/src/main.js', port: 3000, scalable: true, cpu: 'front' },
  { name: 'outbox-relay', entry: 'dist/services/outbox-relay/src/main.js', port: 3010, scalable: true, cpu: 'background' },
  { name: 'projector', entry: 'dist/services/projector/src/main.js', port: 3011, scalable: true, cpu: 'background' },
  { name: 'query-api', entry: 'dist/services/query-api/src/main.js', port: 3001, scalable: true, cpu: 'front' },
  { name: 'bonus-service', entry: 'dist/services/bonus-service/src/main.js', port: 3020, scalable: true, cpu: 'background' },
  { name: 'psp-simulator', entry: 'dist/services/psp-simulator/src/main.js', port: 3002, scalable: false, cpu: 'background' },
  { name: 'payments-worker', entry: 'dist/services/payments-worker/src/main.js', port: 3030, scalable: true, cpu: 'background' },
];
