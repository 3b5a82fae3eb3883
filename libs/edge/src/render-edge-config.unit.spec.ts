import { EDGE_PROBLEMS, renderEdgeConfig, renderEdgeMtailProgram } from './render-edge-config';
import type { EdgeOptions } from './edge-options';

const options: EdgeOptions = {
  listen: '127.0.0.1:8080',
  commandApi: { servers: ['127.0.0.1:3000'], maxInFlight: 256, maxConnsPerServer: 256, keepalive: 64 },
  queryApi: { servers: ['10.0.0.1:3001', '10.0.0.2:3001'], maxInFlight: 200, maxConnsPerServer: 100, keepalive: 32 },
  pidFile: '/run/edge/nginx.pid',
  errorLog: 'stderr',
  tempDir: '/tmp/edge/',
};
const config = renderEdgeConfig(options);

/** The body of the first block opened by `header` (up to its matching brace). */
function block(text: string, header: string): string {
  const start = text.indexOf(`${header} {`);
  if (start < 0) throw new Error(`no block ${header}`);
  let depth = 0;
  for (let i = text.indexOf('{', start); i < text.length; i++) {
    if (text[i] === '{') depth++;
    if (text[i] === '}' && --depth === 0) return text.slice(start, i + 1);
  }
  throw new Error(`unclosed block ${header}`);
}

describe('renderEdgeConfig', () => {
  it('routes writes to the command API and every other method to the query API', () => {
    const routing = block(config, 'map $request_method $sluice_upstream');
    expect(routing).toContain('default sluice_query_api;');
    for (const m of ['POST', 'PUT', 'PATCH', 'DELETE']) expect(routing).toContain(`${m} sluice_command_api;`);
    expect(block(config, '    location /')).toContain('proxy_pass http://$sluice_upstream;');
  });

  it('passes the Authorization header on and drops any X-Client-Id a client sends', () => {
    expect(config).toContain('proxy_set_header Authorization $http_authorization;');
    expect(config).toContain('proxy_set_header X-Client-Id "";');
  });

  it('stamps X-Request-Start with its own clock in the t=<seconds.millis> form the services parse, replacing the client’s', () => {
    expect(config).toContain('proxy_set_header X-Request-Start "t=${msec}";');
  });

  it('bounds requests in flight per routed service, and connections per instance, with idle connections kept alive', () => {
    const location = block(config, '    location /');
    expect(location).toContain('limit_conn sluice_command_api 256;');
    expect(location).toContain('limit_conn sluice_query_api 200;');
    expect(config).toContain('limit_conn_zone $sluice_write zone=sluice_command_api:1m;');
    expect(config).toContain('limit_conn_zone $sluice_read zone=sluice_query_api:1m;');
    const query = block(config, 'upstream sluice_query_api');
    expect(query).toContain('server 10.0.0.1:3001 max_conns=100;');
    expect(query).toContain('server 10.0.0.2:3001 max_conns=100;');
    expect(query).toContain('keepalive 32;');
    // Below the services' 5 s keep-alive: the edge closes an idle connection before the service does.
    expect(query).toContain('keepalive_timeout 4s;');
    expect(config).toContain('proxy_http_version 1.1;');
    expect(config).toContain('proxy_set_header Connection $sluice_connection;');
  });

  it('answers its own refusals with 503, Retry-After and a problem+json body, and leaves the services’ answers alone', () => {
    expect(config).toContain('limit_conn_status 503;');
    expect(config).toContain('error_page 503 @sluice_overloaded;');
    expect(config).toContain('error_page 502 504 =503 @sluice_unavailable;');
    expect(config).toContain('proxy_intercept_errors off;');
    const refusal = block(config, 'location @sluice_overloaded');
    expect(refusal).toContain('default_type application/problem+json;');
    expect(refusal).toContain('add_header Retry-After 1 always;');
    const body = /return 503 '(.*)';/.exec(refusal)?.[1];
    expect(JSON.parse(body!)).toEqual({
      type: 'https://sluice.dev/problems/overloaded',
      title: 'Service overloaded',
      status: 503,
      detail: expect.any(String),
      code: 'overloaded',
      stage: 'edge',
    });
  });

  it('streams server-sent events unbuffered and upgrades WebSockets, under their own bound and timeout', () => {
    for (const loc of ['location ~ ^/v1/withdrawals/[^/]+/events$', 'location = /v1/withdrawals/stream']) {
      const stream = block(config, `    ${loc}`);
      expect(stream).toContain('proxy_buffering off;');
      expect(stream).toContain('limit_conn sluice_streams 10000;');
      expect(stream).toContain('proxy_read_timeout 3600s;');
    }
    expect(block(config, 'map $http_upgrade $sluice_connection')).toContain('default upgrade;');
    expect(config).toContain('proxy_set_header Upgrade $http_upgrade;');
  });

  it('keeps request bodies in memory and runs in the foreground with its own pid, logs and temporary files', () => {
    expect(config).toContain('client_max_body_size 65536;');
    expect(config).toContain('client_body_buffer_size 65536;');
    expect(config).toContain('daemon off;');
    expect(config).toContain('pid /run/edge/nginx.pid;');
    expect(config).toContain('error_log stderr warn;');
    expect(config).toContain('access_log off;');
    expect(config).toContain('client_body_temp_path /tmp/edge/client_body;');
    expect(config).toContain('listen 127.0.0.1:8080 backlog=4096;');
  });

  it('balances braces', () => {
    expect(config.split('{').length).toBe(config.split('}').length);
  });

  it('refuses options whose bounds cannot hold', () => {
    expect(() => renderEdgeConfig({ ...options, commandApi: { ...options.commandApi, maxConnsPerServer: 10 } })).toThrow(
      /maxConnsPerServer × servers must be at least maxInFlight/,
    );
    expect(() => renderEdgeConfig({ ...options, workerConnections: 512 })).toThrow(/workerConnections/);
    expect(() => renderEdgeConfig({ ...options, pidFile: '/tmp/a;b' })).toThrow();
  });

  it('logs a line per refusal of its own, only in the refusal locations and only when asked to', () => {
    expect(config).not.toContain('sluice_refusal');
    const counted = renderEdgeConfig({ ...options, refusalLog: '/run/edge/refusals.log' });
    expect(block(counted, '    location @sluice_overloaded')).toContain(
      'access_log /run/edge/refusals.log sluice_refusal_overloaded;',
    );
    expect(block(counted, '    location @sluice_unavailable')).toContain(
      'access_log /run/edge/refusals.log sluice_refusal_service_unavailable;',
    );
    expect(counted).toContain("log_format sluice_refusal_overloaded 'overloaded $sluice_upstream';");
    expect(block(counted, '    location /')).not.toContain('refusals.log');
  });

  it("counts (mtail) exactly the lines the refusal log's formats write", () => {
    const pattern = /^\/(.*)\/ \{$/m.exec(renderEdgeMtailProgram())![1]!.replace(/\(\?P</g, '(?<');
    const line = new RegExp(pattern);
    for (const p of Object.values(EDGE_PROBLEMS)) {
      expect(line.exec(`${p.code} sluice_command_api`)?.groups).toEqual({ reason: p.code, upstream: 'sluice_command_api' });
    }
    expect(line.test('GET /v1/wallets 200')).toBe(false);
  });
});
