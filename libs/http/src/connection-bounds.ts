import type { Server } from 'node:http';
import { Counter, Gauge, type Registry } from 'prom-client';

export interface ConnectionBounds {
  /**
   * Client connections served at once (an edge proxy's kept-alive connections are a few; a
   * thousand plain clients are a thousand). Beyond it a new connection is closed as it is
   * accepted, before any byte is read: the cheapest refusal there is. 0 leaves it unbounded.
   */
  maxConnections: number;
  /** An idle kept-alive connection is closed after this; edge proxies close theirs sooner. */
  keepAliveTimeoutMs: number;
  /** A client must send its request headers within this (slow-header clients hold a connection). */
  headersTimeoutMs: number;
  /** …and the whole request within this. */
  requestTimeoutMs: number;
}

/**
 * Bounds the connections an HTTP server serves, and how long a connection
 * may hold a place without sending a request, with metrics for both:
 * `sluice_http_connections` (open now), `sluice_http_connections_max` and
 * `sluice_http_connections_refused_total` (closed at accept, over the bound).
 */
export function boundConnections(server: Server, bounds: ConnectionBounds, registry: Registry): void {
  if (bounds.maxConnections > 0) server.maxConnections = bounds.maxConnections;
  server.keepAliveTimeout = bounds.keepAliveTimeoutMs;
  server.headersTimeout = Math.min(bounds.headersTimeoutMs, bounds.requestTimeoutMs);
  server.requestTimeout = bounds.requestTimeoutMs;
  let open = 0;
  new Gauge({
    name: 'sluice_http_connections',
    help: 'Client connections this process serves now',
    registers: [registry],
    collect() {
      this.set(open);
    },
  });
  new Gauge({
    name: 'sluice_http_connections_max',
    help: 'Client connections this process serves at most (HTTP_MAX_CONNECTIONS; 0 = unbounded)',
    registers: [registry],
  }).set(bounds.maxConnections);
  const refused = new Counter({
    name: 'sluice_http_connections_refused_total',
    help: 'Client connections closed as they were accepted because the process served as many as it may',
    registers: [registry],
  });
  server.on('connection', (socket) => {
    open++;
    socket.once('close', () => open--);
  });
  server.on('drop', () => refused.inc());
}
