import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Registry } from 'prom-client';
import { DoorGate } from './door-gate';

let server: Server;
let gate: DoorGate;
let registry: Registry;
let base: string;
let reached: string[];

beforeEach(async () => {
  registry = new Registry();
  reached = [];
  gate = new DoorGate({
    exempt: new Set(['/health/live']),
    requestBudgetMs: 400,
    maxQueuedMs: 50,
    retryAfterSec: 1,
    registry,
  });
  server = createServer(
    gate.wrap((req, res) => {
      reached.push(req.url ?? '');
      res.end('handled');
    }),
  );
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterEach(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

const post = (path: string, headers: Record<string, string> = {}) =>
  fetch(`${base}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: '{"a":1}' });

async function drops(): Promise<Record<string, number>> {
  const metric = await registry.getSingleMetric('sluice_backpressure_drops_total')!.get();
  return Object.fromEntries(metric.values.map((v) => [`${String(v.labels.stage)}/${String(v.labels.reason)}`, v.value]));
}

describe('DoorGate (refusals before the framework)', () => {
  it('passes a request with nothing against it to the framework', async () => {
    const res = await post('/v1/wallets');
    expect(await res.text()).toBe('handled');
    expect(reached).toEqual(['/v1/wallets']);
  });

  it('refuses every request but health checks while the process is saturated: 503 overloaded, Retry-After, problem+json', async () => {
    gate.saturated = () => true;
    const res = await post('/v1/wallets?x=1');
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('1');
    expect(res.headers.get('content-type')).toBe('application/problem+json');
    expect(await res.json()).toMatchObject({ status: 503, code: 'overloaded', instance: '/v1/wallets' });
    expect((await fetch(`${base}/health/live`)).status).toBe(200);
    expect(reached).toEqual(['/health/live']);
    expect(await drops()).toEqual({ 'process/event_loop': 1 });
  });

  it('refuses a request that queued in front of the process longer than allowed, or past its budget', async () => {
    const queued = await post('/v1/wallets', { 'x-request-start': `t=${Date.now() - 100}` });
    expect(queued.status).toBe(503);
    expect(await queued.json()).toMatchObject({ code: 'overloaded', detail: expect.stringMatching(/queued \d+ ms/) });
    const late = await post('/v1/wallets', { 'x-request-start': `t=${(Date.now() - 1_000) / 1000}` });
    expect(late.status).toBe(503);
    expect(late.headers.get('retry-after')).toBe('1');
    expect(await late.json()).toMatchObject({ code: 'deadline_exceeded' });
    const fresh = await post('/v1/wallets', { 'x-request-start': `t=${Date.now()}` });
    expect(await fresh.text()).toBe('handled');
    expect(await drops()).toEqual({ 'ingress/queued_too_long': 1, 'ingress/queued_past_deadline': 1 });
  });

  it('keeps the connection usable after refusing a request whose body it never read', async () => {
    gate.saturated = () => true;
    expect((await post('/v1/wallets')).status).toBe(503);
    gate.saturated = () => false;
    expect(await (await post('/v1/wallets')).text()).toBe('handled');
  });
});
