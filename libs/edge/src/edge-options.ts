import { z } from '@sluice/config';

const hostPort = z.string().regex(/^[A-Za-z0-9.-]+:\d{1,5}$/, 'host:port');
const path = z.string().regex(/^[^\s;'"{}$]+$/, 'a path without spaces, quotes, braces, ; or $');

/** One service behind the edge, as an nginx upstream group. */
const upstream = z.object({
  /** Its instances (host:port); a Kubernetes Service is one. */
  servers: z.array(hostPort).min(1),
  /**
   * Requests through the edge to this service at once, across every instance (limit_conn on the
   * routed service). Beyond it the edge itself answers 503 with Retry-After: the queue in front of
   * the service is bounded by count here, and by time at the service (X-Request-Start).
   */
  maxInFlight: z.number().int().min(1),
  /** Connections the edge opens to each instance at once (max_conns); at least maxInFlight / servers. */
  maxConnsPerServer: z.number().int().min(1),
  /** Idle kept-alive connections each edge worker keeps to the service (upstream keepalive). */
  keepalive: z.number().int().min(1),
});

export type EdgeUpstream = z.infer<typeof upstream>;

/**
 * Everything the edge's nginx configuration depends on, with its defaults in
 * one place. Local runs (deploy/local/edge.sh), the tests and the Kubernetes
 * manifest render from the same options.
 */
export const edgeOptionsSchema = z
  .object({
    /** Where clients connect: host:port, or a port alone (every address). */
    listen: z.union([hostPort, z.number().int().min(1).max(65535)]).default('127.0.0.1:8080'),
    /** Writes (POST, PUT, PATCH, DELETE). */
    commandApi: upstream,
    /** Reads (GET, HEAD), server-sent events and WebSocket upgrades. */
    queryApi: upstream,
    /** Server-sent event streams and WebSockets at once, on the query API (they are long-lived, so apart from maxInFlight). */
    maxStreams: z.number().int().min(1).default(10_000),
    workerProcesses: z.union([z.literal('auto'), z.number().int().min(1)]).default(1),
    /** Connections per worker, clients' and upstreams' together. */
    workerConnections: z.number().int().min(64).default(4_096),
    /** Retry-After of the edge's own refusals and of a service it cannot reach, seconds. */
    retryAfterSec: z.number().int().min(1).default(1),
    /** Largest request body; the services refuse larger ones themselves, so this is a backstop above theirs. */
    clientMaxBodyBytes: z
      .number()
      .int()
      .min(1_024)
      .default(64 * 1024),
    /** Idle client keep-alive connections are closed after this. */
    clientKeepaliveTimeoutSec: z.number().int().min(1).default(75),
    /**
     * Idle upstream connections are closed after this: below the services' own keep-alive timeout
     * (5 s), so the edge never sends a request on a connection the service is closing.
     */
    upstreamKeepaliveTimeoutSec: z.number().int().min(1).default(4),
    /** Longest wait for a service's answer (requests) and between stream messages (SSE, WebSocket). */
    readTimeoutSec: z.number().int().min(1).default(30),
    streamTimeoutSec: z.number().int().min(1).default(3_600),
    pidFile: path,
    /** A file, or "stderr". */
    errorLog: z.union([path, z.literal('stderr')]),
    /** warn by default; info logs every refusal by the in-flight bound (one line each). */
    errorLogLevel: z.enum(['debug', 'info', 'notice', 'warn', 'error']).default('warn'),
    /** A file, "stdout", or off (the default: under a burst, a line per request costs the edge more than the refusal). */
    accessLog: z.union([path, z.literal('stdout')]).optional(),
    /**
     * A file that gets one line per refusal or failure the edge answers itself ("<reason> <upstream>"),
     * for mtail to count (renderEdgeMtailProgram): open-source nginx has no per-status counters, and
     * a line per refusal only costs while refusing. Unset: not counted.
     */
    refusalLog: z.union([path, z.literal('stdout')]).optional(),
    /** Directory for nginx's temporary files (request bodies that do not fit in memory never go there: see below). */
    tempDir: path,
  })
  .refine((o) => o.commandApi.maxConnsPerServer * o.commandApi.servers.length >= o.commandApi.maxInFlight, {
    message: 'commandApi: maxConnsPerServer × servers must be at least maxInFlight',
  })
  .refine((o) => o.queryApi.maxConnsPerServer * o.queryApi.servers.length >= o.queryApi.maxInFlight, {
    message: 'queryApi: maxConnsPerServer × servers must be at least maxInFlight',
  })
  .refine((o) => o.workerConnections > 2 * (o.commandApi.maxInFlight + o.queryApi.maxInFlight), {
    message: 'workerConnections must exceed twice the in-flight bounds (a client and an upstream connection each)',
  });

export type EdgeOptions = z.input<typeof edgeOptionsSchema>;
export type ResolvedEdgeOptions = z.output<typeof edgeOptionsSchema>;
