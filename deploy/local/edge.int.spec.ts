import { randomUUID } from 'node:crypto';
import { createServer, get, type IncomingHttpHeaders, type Server } from 'node:http';
import { connect, type Socket } from 'node:net';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import WebSocket from 'ws';
import type { EdgeUpstream } from '@sluice/edge';
import {
  createTestDatabase,
  freePort,
  startEdge,
  startService,
  testEnv,
  testIssuer,
  uniqueName,
  waitFor,
  type EdgeProcess,
  type ServiceProcess,
  type TestDatabase,
} from '@sluice/testing';

/**
 * The edge proxy (nginx with the rendered configuration) in front of a real
 * command API and query API, each its own process on a free port.
 */
let db: TestDatabase;
let edge: EdgeProcess;
let echoEdge: EdgeProcess;
let echo: Server;
const echoed: IncomingHttpHeaders[] = [];
const services: Record<string, ServiceProcess> = {};

const upstream = (port: number, maxInFlight: number): EdgeUpstream => ({
  servers: [`127.0.0.1:${port}`],
  maxInFlight,
  maxConnsPerServer: maxInFlight,
  keepalive: 4,
});

/** The Authorization header of `subject`: through the edge, the token's subject is the client. */
const as = (subject: string) => testIssuer().bearer(subject, 'wallets:open wallets:read:any withdrawals:request funds:deposit');
let AUTH: Record<string, string>;

beforeAll(async () => {
  AUTH = await as('edge-user');
  db = await createTestDatabase('edge');
  const env = {
    ...testIssuer().env(),
    DATABASE_URL: db.url,
    ...testEnv.kafkaEnv,
    SCHEMA_REGISTRY_URL: testEnv.registryUrl,
    OUTBOX_TOPIC_PATTERN: `${uniqueName('edge')}.\${routedByValue}`,
    OUTBOX_SLOT_NAME: uniqueName('slot').toLowerCase(),
    OUTBOX_PUBLICATION_NAME: uniqueName('pub').toLowerCase(),
    PROJECTOR_GROUP_ID: uniqueName('edge_projector'),
    WALLET_COMMANDS_ENABLED: 'false',
    LOG_LEVEL: 'warn',
    // A busy test machine must not read as a saturated service, nor as a queue in front of it.
    EVENT_LOOP_MAX_DELAY_MS: '0',
    REQUEST_MAX_QUEUED_MS: '0',
    REQUEST_BUDGET_MS: '5000',
    // Small enough to reach a 429 in a few requests.
    CLIENT_RATE_PER_SEC: '1',
    CLIENT_BURST: '3',
    QUERY_STREAM_NOT_FOUND_MS: '3000',
  };
  services.command = startService('command-api', env, await freePort());
  await services.command.waitReady();
  // The projector creates the read model the query API serves.
  services.projector = startService('projector', env, await freePort());
  services.query = startService('query-api', env, await freePort());
  await Promise.all([services.projector.waitReady(), services.query.waitReady()]);
  edge = await startEdge(
    { commandApi: upstream(services.command.port, 2), queryApi: upstream(services.query.port, 2), errorLogLevel: 'info' },
    { countRefusals: true },
  );

  // An upstream that answers with the headers it received, to see what the edge sends.
  echo = createServer((req, res) => {
    echoed.push(req.headers);
    req.resume();
    req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end('{}'));
  });
  echo.listen(0, '127.0.0.1');
  await once(echo, 'listening');
  const echoPort = (echo.address() as AddressInfo).port;
  echoEdge = await startEdge({ commandApi: upstream(echoPort, 8), queryApi: upstream(echoPort, 8) });
}, 120_000);

afterAll(async () => {
  await Promise.all([edge?.stop(), echoEdge?.stop()]);
  echo?.close();
  await Promise.all(Object.values(services).map((s) => s.kill('SIGTERM')));
  await db?.drop();
});

function post(base: string, path: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${base}${path}`, {
    method: 'POST',
    headers: { ...AUTH, 'content-type': 'application/json', 'idempotency-key': randomUUID(), ...headers },
    body: JSON.stringify(body),
  });
}

/** sluice_edge_refusals_total{reason, upstream} as mtail serves it beside the edge (0 before the first). */
async function refusals(e: EdgeProcess, reason: string, upstreamName: string): Promise<number> {
  const text = await (await fetch(e.metricsUrl!)).text();
  const line = text
    .split('\n')
    .find((l) => l.startsWith(`sluice_edge_refusals_total{reason="${reason}",upstream="${upstreamName}"}`));
  return line ? Number(line.split(' ').pop()) : 0;
}

/** A POST whose headers arrived and whose body never does: it holds one of the edge's in-flight places. */
async function holdPost(port: number): Promise<Socket> {
  const socket = connect({ port, host: '127.0.0.1' });
  // A reset (the edge closing it at the end of the test, say) is not this test's failure; its assertions say what failed.
  socket.on('error', () => undefined);
  await once(socket, 'connect');
  socket.write(
    'POST /v1/wallets HTTP/1.1\r\nHost: edge\r\nContent-Type: application/json\r\nContent-Length: 100\r\nIdempotency-Key: held\r\n\r\n',
  );
  return socket;
}

describe('edge proxy (nginx) in front of the command and query APIs', () => {
  it('routes a POST to the command API and a GET to the query API', async () => {
    const created = await post(edge.url, '/v1/wallets', { currency: 'EUR' }, await as('routing'));
    expect(created.status).toBe(201);
    const { walletId } = (await created.json()) as { walletId: string };

    const read = await fetch(`${edge.url}/v1/wallets/${randomUUID()}`, { headers: AUTH });
    expect(read.status).toBe(404);
    expect(await read.json()).toMatchObject({ code: 'wallet_not_found' });
    const metrics = await (await fetch(`${edge.url}/metrics`)).text();
    expect(metrics).toContain('sluice_stream_connections'); // the query API's
    expect(metrics).not.toContain('sluice_command_group_transactions'); // the command API's
    expect(walletId).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('streams server-sent events through as they are written, not when the stream ends', async () => {
    const started = Date.now();
    const { firstChunkMs, endMs, first } = await new Promise<{ firstChunkMs: number; endMs: number; first: string }>(
      (resolve, reject) => {
        const req = get(`${edge.url}/v1/withdrawals/${randomUUID()}/events`, { headers: AUTH }, (res) => {
          expect(res.headers['content-type']).toMatch(/^text\/event-stream/);
          let firstChunkMs = -1;
          let first = '';
          res.on('data', (chunk: Buffer) => {
            if (firstChunkMs < 0) {
              firstChunkMs = Date.now() - started;
              first = chunk.toString();
            }
          });
          res.on('end', () => resolve({ firstChunkMs, endMs: Date.now() - started, first }));
        });
        req.on('error', reject);
      },
    );
    expect(first).toContain('retry: 2000');
    // The unknown withdrawal's stream ends after QUERY_STREAM_NOT_FOUND_MS (3 s); its first bytes came long before.
    expect(endMs).toBeGreaterThan(2_500);
    expect(firstChunkMs).toBeLessThan(1_500);
  });

  it('upgrades a WebSocket through to the query API, its token in the bearer.<token> subprotocol as a browser sends it', async () => {
    const token = AUTH.authorization!.slice('Bearer '.length);
    const ws = new WebSocket(`${edge.url.replace('http', 'ws')}/v1/withdrawals/stream`, ['sluice.v1', `bearer.${token}`]);
    try {
      await once(ws, 'open');
      const withdrawalId = randomUUID();
      ws.send(JSON.stringify({ type: 'subscribe', withdrawalId }));
      const [message] = (await once(ws, 'message')) as [Buffer];
      expect(JSON.parse(message.toString())).toMatchObject({ type: 'error', code: 'withdrawal_not_found', withdrawalId });
    } finally {
      ws.close();
    }
  });

  it('refuses a request without a token at the API behind it: 401 with its Bearer challenge through the edge', async () => {
    const res = await fetch(`${edge.url}/v1/wallets/${randomUUID()}`);
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe('Bearer realm="sluice"');
    const write = await fetch(`${edge.url}/v1/wallets`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'idempotency-key': randomUUID() },
      body: '{"currency":"EUR"}',
    });
    expect(write.status).toBe(401);
  });

  it('passes Authorization to the upstream and drops a client-sent X-Client-Id', async () => {
    echoed.length = 0;
    const res = await post(echoEdge.url, '/v1/wallets', {}, { 'x-client-id': 'someone-else' });
    expect(res.status).toBe(200);
    expect(echoed[0]?.authorization).toBe(AUTH.authorization);
    expect(echoed[0]?.['x-client-id']).toBeUndefined();
  });

  it("stamps X-Request-Start with the edge's clock, replacing the client's own stamp", async () => {
    echoed.length = 0;
    const before = Date.now();
    const res = await post(echoEdge.url, '/v1/wallets', {}, { 'x-request-start': 't=1000000000.000' });
    expect(res.status).toBe(200);
    const stamp = echoed[0]?.['x-request-start'];
    expect(stamp).toMatch(/^t=\d{10}\.\d{3}$/);
    const ms = Number(String(stamp).slice(2)) * 1000;
    expect(ms).toBeGreaterThanOrEqual(before - 1_000);
    expect(ms).toBeLessThanOrEqual(Date.now() + 1_000);

    // A client's stamp from 2001 would put the request past its budget at the API; through the edge it is not the client's to set.
    const old = { 'x-request-start': 't=1000000000.000', ...(await as('stamp')) };
    expect((await post(services.command!.url, '/v1/wallets', { currency: 'EUR' }, old)).status).toBe(503);
    expect((await post(edge.url, '/v1/wallets', { currency: 'EUR' }, old)).status).toBe(201);
  });

  it('refuses requests beyond its in-flight bound itself: 503, Retry-After and problem+json, and admits again once places free', async () => {
    const before = await refusals(edge, 'overloaded', 'sluice_command_api');
    const held = [await holdPost(edge.port), await holdPost(edge.port)];
    try {
      const refused = await waitFor(
        'the edge to count both held requests',
        async () => {
          const res = await post(edge.url, '/v1/wallets', { currency: 'EUR' }, await as(`bound-${randomUUID()}`));
          return res.status === 503 && res.headers.get('content-type') === 'application/problem+json' ? res : undefined;
        },
        { timeoutMs: 5_000, intervalMs: 100 },
      );
      expect(refused.headers.get('retry-after')).toBe('1');
      expect(await refused.json()).toMatchObject({ status: 503, code: 'overloaded', stage: 'edge' });
      // Counted by the refusal counter that `make up` scrapes as job edge.
      await waitFor(
        'the refusal to be counted',
        async () => (await refusals(edge, 'overloaded', 'sluice_command_api')) > before,
        { timeoutMs: 5_000, intervalMs: 100 },
      );
      expect(await refusals(edge, 'overloaded', 'sluice_query_api')).toBe(0);
      // Reads count against the query API's bound, not the command API's.
      expect((await fetch(`${edge.url}/v1/wallets/${randomUUID()}`, { headers: AUTH })).status).toBe(404);
    } finally {
      for (const s of held) s.destroy();
    }
    await waitFor(
      'the edge to admit writes again',
      async () => (await post(edge.url, '/v1/wallets', { currency: 'EUR' }, await as(`bound-${randomUUID()}`))).status === 201,
      { timeoutMs: 5_000, intervalMs: 200 },
    );
  });

  it("passes a service's 429 through with its Retry-After and RateLimit headers", async () => {
    let limited: Response | undefined;
    for (let i = 0; i < 10 && !limited; i++) {
      const res = await post(edge.url, '/v1/wallets', { currency: 'EUR' }, await as('noisy'));
      if (res.status === 429) limited = res;
      else expect(res.status).toBe(201);
    }
    expect(limited).toBeDefined();
    expect(Number(limited!.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(limited!.headers.get('ratelimit-limit')).toBe('3');
    expect(limited!.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(await limited!.json()).toMatchObject({ status: 429, code: 'rate_limited' });
  });

  it('counts what it answers itself by reason and upstream: a service it cannot reach, a body too large', async () => {
    const closed = await freePort();
    const lost = await startEdge(
      { commandApi: upstream(closed, 4), queryApi: upstream(closed, 4), retryAfterSec: 2 },
      { countRefusals: true },
    );
    try {
      const write = await post(lost.url, '/v1/wallets', { currency: 'EUR' });
      expect(write.status).toBe(503);
      expect(write.headers.get('retry-after')).toBe('2');
      expect(await write.json()).toMatchObject({ code: 'service_unavailable', stage: 'edge' });
      expect((await fetch(`${lost.url}/v1/wallets/${randomUUID()}`, { headers: AUTH })).status).toBe(503);
      expect((await post(lost.url, '/v1/wallets', { pad: 'x'.repeat(100 * 1024) })).status).toBe(413);
      await waitFor(
        'three refusals to be counted',
        async () =>
          (await refusals(lost, 'service_unavailable', 'sluice_command_api')) === 1 &&
          (await refusals(lost, 'service_unavailable', 'sluice_query_api')) === 1 &&
          (await refusals(lost, 'body_too_large', 'sluice_command_api')) === 1,
        { timeoutMs: 5_000, intervalMs: 100 },
      );
      expect(await refusals(lost, 'overloaded', 'sluice_command_api')).toBe(0);
    } finally {
      await lost.stop();
    }
  });
});
