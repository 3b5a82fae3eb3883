/**
 * The Sluice services the local platform runs, in start order, with the port
 * each answers health on. The supervisor and the demo both read this list.
 */
export interface LocalService {
  name: string;
  /** Built entry point, relative to the repository root. */
  entry: string;
  port: number;
}

export const LOCAL_SERVICES: readonly LocalService[] = [
  { name: 'command-api', entry: 'dist/services/command-api/src/main.js', port: 3000 },
  { name: 'outbox-relay', entry: 'dist/services/outbox-relay/src/main.js', port: 3010 },
  { name: 'projector', entry: 'dist/services/projector/src/main.js', port: 3011 },
  { name: 'query-api', entry: 'dist/services/query-api/src/main.js', port: 3001 },
  { name: 'bonus-service', entry: 'dist/services/bonus-service/src/main.js', port: 3020 },
  { name: 'psp-simulator', entry: 'dist/services/psp-simulator/src/main.js', port: 3002 },
  { name: 'payments-worker', entry: 'dist/services/payments-worker/src/main.js', port: 3030 },
];
