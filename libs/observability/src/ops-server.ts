import { createServer, type Server } from 'node:http';
import type { Registry } from 'prom-client';
import type { Health } from './health';
import type { Logger } from './logger';

export interface OpsResponse {
  status: number;
  contentType: string;
  body: string;
}

/**
 * The answers behind /health/live, /health/ready and /metrics, shared by the
 * plain-HTTP ops server of the workers and the routes of the NestJS services.
 * A listener without health (the metrics listener) or without metrics (an API
 * port when METRICS_PORT gives them a listener of their own) answers those
 * paths with undefined: the caller's 404.
 */
export async function opsResponse(
  path: string,
  health: Health | undefined,
  registry: Registry | undefined,
): Promise<OpsResponse | undefined> {
  if (path === '/metrics') return registry && { status: 200, contentType: registry.contentType, body: await registry.metrics() };
  if (!health) return undefined;
  switch (path) {
    case '/health/live': {
      const report = health.liveness();
      return json(report.status === 'up' ? 200 : 503, report);
    }
    case '/health/ready': {
      const report = await health.readiness();
      return json(report.status === 'up' ? 200 : 503, report);
    }
    default:
      return undefined;
  }
}

function json(status: number, value: unknown): OpsResponse {
  return { status, contentType: 'application/json', body: JSON.stringify(value) };
}

export interface OpsServer {
  readonly port: number;
  close(): Promise<void>;
}

/**
 * Health and metrics over HTTP for processes that serve no other HTTP. Without
 * a registry (metrics have their own listener) /metrics is a 404 here; without
 * health, /health/* is.
 */
export async function startOpsServer(options: {
  host: string;
  port: number;
  health?: Health | undefined;
  registry?: Registry | undefined;
  logger: Logger;
  /** What the start-up log line calls this listener. */
  name?: string;
}): Promise<OpsServer> {
  const { health, registry, logger } = options;
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    opsResponse(path, health, registry)
      .then((r) => {
        const out = r ?? json(404, { title: 'Not Found', status: 404 });
        res.writeHead(out.status, { 'content-type': out.contentType });
        res.end(out.body);
      })
      .catch((err: unknown) => {
        logger.error({ err }, 'ops request failed');
        res.writeHead(500).end();
      });
  });
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  logger.info({ port }, `${options.name ?? 'ops server'} listening`);
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/**
 * The listener of METRICS_PORT: /metrics only, for Prometheus, apart from the port clients and
 * probes use. Undefined when no port is set: the service then serves /metrics on its API port.
 */
export async function startMetricsServer(options: {
  host: string;
  port: number | undefined;
  registry: Registry;
  logger: Logger;
}): Promise<OpsServer | undefined> {
  if (options.port === undefined) return undefined;
  return startOpsServer({
    host: options.host,
    port: options.port,
    registry: options.registry,
    logger: options.logger,
    name: 'metrics server',
  });
}
