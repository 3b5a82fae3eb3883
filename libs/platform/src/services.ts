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
  { name: 'command-api', entry: 'dist/services/command-api/src/main.js', port: 3000, scalable: true },
  { name: 'outbox-relay', entry: 'dist/services/outbox-relay/src/main.js', port: 3010, scalable: true },
  { name: 'projector', entry: 'dist/services/projector/src/main.js', port: 3011, scalable: true },
  { name: 'query-api', entry: 'dist/services/query-api/src/main.js', port: 3001, scalable: true },
  { name: 'bonus-service', entry: 'dist/services/bonus-service/src/main.js', port: 3020, scalable: true },
  { name: 'psp-simulator', entry: 'dist/services/psp-simulator/src/main.js', port: 3002, scalable: false },
  { name: 'payments-worker', entry: 'dist/services/payments-worker/src/main.js', port: 3030, scalable: true },
];
