import { edgeOptionsSchema, type EdgeOptions, type EdgeUpstream, type ResolvedEdgeOptions } from './edge-options';

const PROBLEM_BASE = 'https://sluice.dev/problems/';

/** The counter of the edge's own answers, by reason (the problem's code) and upstream (the nginx upstream the request was routed to). */
export const EDGE_REFUSALS_METRIC = 'sluice_edge_refusals_total';

/** The request methods that change state, routed to the command API; everything else is a read. */
export const WRITE_METHODS = ['POST', 'PUT', 'PATCH', 'DELETE'] as const;

/** Paths of the query API's long-lived streams (server-sent events, WebSocket), as nginx locations. */
export const STREAM_LOCATIONS = ['~ ^/v1/withdrawals/[^/]+/events$', '= /v1/withdrawals/stream'] as const;

/** The edge's own answers, RFC 9457 problem+json like every service's. */
export const EDGE_PROBLEMS = {
  overloaded: {
    status: 503,
    code: 'overloaded',
    title: 'Service overloaded',
    detail: 'the edge proxy holds as many requests for this service as it admits at once; retry after Retry-After',
  },
  unavailable: {
    status: 503,
    code: 'service_unavailable',
    title: 'Service unavailable',
    detail: 'the edge proxy could not get an answer from the service; retry after Retry-After',
  },
  bodyTooLarge: {
    status: 413,
    code: 'body_too_large',
    title: 'Request body too large',
    detail: 'the edge proxy refused the body as too large',
  },
} as const;

function problemBody(p: (typeof EDGE_PROBLEMS)[keyof typeof EDGE_PROBLEMS]): string {
  const body = JSON.stringify({
    type: `${PROBLEM_BASE}${p.code.replace(/_/g, '-')}`,
    title: p.title,
    status: p.status,
    detail: p.detail,
    code: p.code,
    stage: 'edge',
  });
  // Inside nginx's single quotes a $ starts a variable and a quote ends the string.
  if (/[$'\\]/.test(body)) throw new Error(`problem body not renderable as an nginx string: ${body}`);
  return `'${body}'`;
}

function upstreamBlock(name: string, u: EdgeUpstream, keepaliveTimeoutSec: number): string {
  return [
    `  upstream ${name} {`,
    ...u.servers.map((s) => `    server ${s} max_conns=${u.maxConnsPerServer};`),
    `    keepalive ${u.keepalive};`,
    `    keepalive_timeout ${keepaliveTimeoutSec}s;`,
    '    keepalive_requests 100000;',
    '  }',
  ].join('\n');
}

/**
 * The edge proxy's nginx configuration (nginx 1.22 from Debian's packages:
 * only open-source directives). Clients connect to the edge; it
 *
 * - routes writes to the command API and reads, server-sent events and
 *   WebSocket upgrades to the query API (one `map` on the method, so routing
 *   costs a table look-up);
 * - stamps every request it forwards with `X-Request-Start: t=<epoch s.ms>`
 *   (`$msec`), replacing any stamp the client sent: the services count their
 *   deadline from it and refuse requests that queued too long in front of
 *   them, which a client could otherwise dodge or fake;
 * - bounds the requests in flight to each service (`limit_conn` keyed by the
 *   routed service) and the connections to each instance (`max_conns`), and
 *   keeps idle connections to them open (`keepalive`), so a thousand client
 *   connections become a bounded number of service connections;
 * - answers its own refusals and a service it cannot reach with 503,
 *   `Retry-After` and a problem+json body (`stage: "edge"`), and passes the
 *   services' own answers, `Retry-After` included, through untouched.
 *
 * Open-source nginx has no upstream queue (`queue` is nginx Plus): a request
 * beyond the bound is refused at once, and the queueing happens in the
 * services' admission stage, bounded by wait time.
 */
export function renderEdgeConfig(input: EdgeOptions): string {
  const o: ResolvedEdgeOptions = edgeOptionsSchema.parse(input);
  const tmp = o.tempDir.replace(/\/$/, '');
  const listen = typeof o.listen === 'number' ? String(o.listen) : o.listen;
  const writes = WRITE_METHODS.map((m) => `    ${m} sluice_command_api;`);
  const writeKeys = WRITE_METHODS.map((m) => `    ${m} 1;`);
  const readKeys = WRITE_METHODS.map((m) => `    ${m} "";`);
  const proxy = (timeoutSec: number, extra: string[] = []) => [
    ...extra,
    `      proxy_read_timeout ${timeoutSec}s;`,
    `      proxy_send_timeout ${timeoutSec}s;`,
    '      proxy_pass http://$sluice_upstream;',
  ];
  const streamLocations = STREAM_LOCATIONS.flatMap((loc) => [
    `    location ${loc} {`,
    `      limit_conn sluice_streams ${o.maxStreams};`,
    ...proxy(o.streamTimeoutSec, ['      proxy_buffering off;']),
    '    }',
  ]);
  const refusalLog = o.refusalLog === 'stdout' ? '/dev/stdout' : o.refusalLog;
  const problemLocation = (name: string, p: (typeof EDGE_PROBLEMS)[keyof typeof EDGE_PROBLEMS], retryAfter: boolean) => [
    `    location @${name} {`,
    ...(refusalLog ? [`      access_log ${refusalLog} sluice_refusal_${p.code};`] : []),
    '      default_type application/problem+json;',
    ...(retryAfter ? [`      add_header Retry-After ${o.retryAfterSec} always;`] : []),
    `      return ${p.status} ${problemBody(p)};`,
    '    }',
  ];

  return `${[
    '# Sluice edge proxy. Generated by renderEdgeConfig (libs/edge); edit the options, not this file.',
    `worker_processes ${o.workerProcesses};`,
    `worker_rlimit_nofile ${2 * o.workerConnections};`,
    `pid ${o.pidFile};`,
    `error_log ${o.errorLog} ${o.errorLogLevel};`,
    // In the foreground: the local scripts and Kubernetes supervise the master process themselves.
    'daemon off;',
    '',
    'events {',
    `  worker_connections ${o.workerConnections};`,
    '}',
    '',
    'http {',
    '  server_tokens off;',
    '  default_type application/octet-stream;',
    `  access_log ${o.accessLog === undefined ? 'off' : o.accessLog === 'stdout' ? '/dev/stdout' : o.accessLog};`,
    '  tcp_nodelay on;',
    `  keepalive_timeout ${o.clientKeepaliveTimeoutSec}s;`,
    '  keepalive_requests 100000;',
    '  client_header_timeout 10s;',
    '  client_body_timeout 10s;',
    '  reset_timedout_connection on;',
    // Bodies are read into memory whole (the buffer is the size limit), never into temporary files.
    `  client_max_body_size ${o.clientMaxBodyBytes};`,
    `  client_body_buffer_size ${o.clientMaxBodyBytes};`,
    `  client_body_temp_path ${tmp}/client_body;`,
    `  proxy_temp_path ${tmp}/proxy;`,
    `  fastcgi_temp_path ${tmp}/fastcgi;`,
    `  uwsgi_temp_path ${tmp}/uwsgi;`,
    `  scgi_temp_path ${tmp}/scgi;`,
    '',
    '  # Routing: writes to the command API, everything else (reads, SSE, WebSocket) to the query API.',
    '  map $request_method $sluice_upstream {',
    '    default sluice_query_api;',
    ...writes,
    '  }',
    '  # Keys of the in-flight bounds: a request counts against the service it is routed to (an empty key counts nowhere).',
    '  map $request_method $sluice_write {',
    '    default "";',
    ...writeKeys,
    '  }',
    '  map $request_method $sluice_read {',
    '    default 1;',
    ...readKeys,
    '  }',
    '  map $http_upgrade $sluice_connection {',
    '    default upgrade;',
    '    "" "";',
    '  }',
    '  limit_conn_zone $sluice_write zone=sluice_command_api:1m;',
    '  limit_conn_zone $sluice_read zone=sluice_query_api:1m;',
    '  limit_conn_zone $sluice_read zone=sluice_streams:1m;',
    '  limit_conn_status 503;',
    // A refusal is an answer, not an incident: under a burst a line each would cost more than the answer.
    '  limit_conn_log_level info;',
    // One format per refusal, its reason a literal: the refusal log's lines are "<reason> <upstream>".
    ...(refusalLog
      ? Object.values(EDGE_PROBLEMS).map((p) => `  log_format sluice_refusal_${p.code} '${p.code} $sluice_upstream';`)
      : []),
    '',
    upstreamBlock('sluice_command_api', o.commandApi, o.upstreamKeepaliveTimeoutSec),
    upstreamBlock('sluice_query_api', o.queryApi, o.upstreamKeepaliveTimeoutSec),
    '',
    '  server {',
    `    listen ${listen} backlog=${o.workerConnections};`,
    '',
    '    proxy_http_version 1.1;',
    '    proxy_set_header Host $host;',
    // Empty unless the client asks for an upgrade: kept-alive upstream connections, and WebSocket.
    '    proxy_set_header Connection $sluice_connection;',
    '    proxy_set_header Upgrade $http_upgrade;',
    // Replaces the client's own X-Request-Start, if any.
    '    proxy_set_header X-Request-Start "t=${msec}";',
    '    proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;',
    '    proxy_set_header X-Forwarded-Proto $scheme;',
    // The bearer token is the only identity the services accept; no client-named identity travels on.
    '    proxy_set_header Authorization $http_authorization;',
    '    proxy_set_header X-Client-Id "";',
    '    proxy_connect_timeout 1s;',
    '    proxy_max_temp_file_size 0;',
    '    proxy_intercept_errors off;',
    '',
    "    # The edge's own refusals and failures; a service's own 503 and 429 pass through as they are.",
    '    error_page 503 @sluice_overloaded;',
    '    error_page 502 504 =503 @sluice_unavailable;',
    '    error_page 413 @sluice_body_too_large;',
    '',
    '    location = /edge/health {',
    '      access_log off;',
    '      default_type text/plain;',
    '      return 200 "ok\\n";',
    '    }',
    '    location = /edge/status {',
    '      access_log off;',
    '      stub_status;',
    '    }',
    ...streamLocations,
    '    location / {',
    `      limit_conn sluice_command_api ${o.commandApi.maxInFlight};`,
    `      limit_conn sluice_query_api ${o.queryApi.maxInFlight};`,
    ...proxy(o.readTimeoutSec),
    '    }',
    ...problemLocation('sluice_overloaded', EDGE_PROBLEMS.overloaded, true),
    ...problemLocation('sluice_unavailable', EDGE_PROBLEMS.unavailable, true),
    ...problemLocation('sluice_body_too_large', EDGE_PROBLEMS.bodyTooLarge, false),
    '  }',
    '}',
  ].join('\n')}\n`;
}

/**
 * The mtail program that turns the refusal log (EdgeOptions.refusalLog) into
 * sluice_edge_refusals_total{reason, upstream}; mtail serves it on /metrics beside nginx.
 */
export function renderEdgeMtailProgram(): string {
  const reasons = Object.values(EDGE_PROBLEMS)
    .map((p) => p.code)
    .join('|');
  return [
    "# Generated by renderEdgeMtailProgram (libs/edge): counts the edge proxy's own answers, one log line each.",
    `counter ${EDGE_REFUSALS_METRIC} by reason, upstream`,
    `/^(?P<reason>${reasons}) (?P<upstream>[a-z_]+)$/ {`,
    `  ${EDGE_REFUSALS_METRIC}[$reason][$upstream]++`,
    '}',
    '',
  ].join('\n');
}
