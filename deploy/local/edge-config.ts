import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { env, loadConfig, z } from '@sluice/config';
import { renderEdgeConfig, renderEdgeMtailProgram, type EdgeOptions } from '@sluice/edge';
import { localServices } from './services';

/**
 * Writes the local edge proxy's nginx configuration (deploy/local/edge.sh runs it):
 *   node dist/deploy/local/edge-config.js <edge dir> <error log>
 *     → <edge dir>/nginx.conf, and <edge dir>/mtail/edge.mtail, the program that counts the lines
 *       nginx writes to <edge dir>/refusals.log (one per refusal the edge answers itself)
 * The same renderer makes the Kubernetes manifest's (deploy/k8s/edge-manifest.ts).
 */
export const localEdgeEnv = z.object({
  EDGE_LISTEN: z.string().default('127.0.0.1:8080'),
  /** host:port list; unset: every local process of the API (SLUICE_REPLICAS of them). */
  EDGE_COMMAND_API: env.list(''),
  EDGE_QUERY_API: env.list(''),
  SLUICE_REPLICAS: z.string().optional(),
  /** Requests in flight through the edge to each API; about what the command API's admission holds (limit 64 + queue 200). */
  EDGE_COMMAND_MAX_IN_FLIGHT: env.int(256, 1),
  EDGE_QUERY_MAX_IN_FLIGHT: env.int(256, 1),
  EDGE_KEEPALIVE: env.int(64, 1),
  EDGE_MAX_STREAMS: env.int(10_000, 1),
  EDGE_WORKERS: env.int(1, 1, 64),
  EDGE_ACCESS_LOG: env.bool(false),
});

export function localEdgeOptions(config: z.infer<typeof localEdgeEnv>, dir: string, errorLog: string): EdgeOptions {
  const processes = localServices({ SLUICE_REPLICAS: config.SLUICE_REPLICAS });
  const upstream = (service: string, given: string[], maxInFlight: number) => {
    const servers =
      given.length > 0 ? given : processes.filter((p) => p.service.name === service).map((p) => `127.0.0.1:${p.port}`);
    return {
      servers,
      maxInFlight,
      maxConnsPerServer: Math.ceil(maxInFlight / servers.length),
      keepalive: Math.min(config.EDGE_KEEPALIVE, maxInFlight),
    };
  };
  return {
    listen: config.EDGE_LISTEN,
    commandApi: upstream('command-api', config.EDGE_COMMAND_API, config.EDGE_COMMAND_MAX_IN_FLIGHT),
    queryApi: upstream('query-api', config.EDGE_QUERY_API, config.EDGE_QUERY_MAX_IN_FLIGHT),
    maxStreams: config.EDGE_MAX_STREAMS,
    workerProcesses: config.EDGE_WORKERS,
    pidFile: join(dir, 'nginx.pid'),
    errorLog,
    ...(config.EDGE_ACCESS_LOG && { accessLog: join(dir, 'access.log') }),
    refusalLog: join(dir, 'refusals.log'),
    tempDir: join(dir, 'tmp'),
  };
}

if (require.main === module) {
  const dir = resolve(process.argv[2] ?? '.run/edge');
  mkdirSync(join(dir, 'tmp'), { recursive: true });
  const file = join(dir, 'nginx.conf');
  const errorLog = resolve(process.argv[3] ?? join(dir, 'error.log'));
  writeFileSync(file, renderEdgeConfig(localEdgeOptions(loadConfig(localEdgeEnv), dir, errorLog)));
  mkdirSync(join(dir, 'mtail'), { recursive: true });
  writeFileSync(join(dir, 'mtail/edge.mtail'), renderEdgeMtailProgram());
  process.stdout.write(`${file}\n`);
}
