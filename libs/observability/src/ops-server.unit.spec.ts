import { Counter } from 'prom-client';
import { Health } from './health';
import { createLogger } from './logger';
import { createMetricsRegistry } from './metrics';
import { startMetricsServer, startOpsServer, type OpsServer } from './ops-server';

const logger = createLogger('ops-test', 'silent');
const servers: OpsServer[] = [];

afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

function registry() {
  const r = createMetricsRegistry('ops-test', false);
  new Counter({ name: 'ops_test_total', help: 'a test counter', registers: [r] }).inc();
  return r;
}

const get = async (server: OpsServer, path: string) => {
  const res = await fetch(`http://127.0.0.1:${server.port}${path}`);
  return { status: res.status, body: await res.text() };
};

describe('ops and metrics listeners', () => {
  it('the ops server serves health and metrics when given both', async () => {
    const ops = await startOpsServer({ host: '127.0.0.1', port: 0, health: new Health(), registry: registry(), logger });
    servers.push(ops);
    expect((await get(ops, '/health/live')).status).toBe(200);
    expect((await get(ops, '/metrics')).body).toContain('ops_test_total{service="ops-test"} 1');
  });

  it('the ops server answers /metrics 404 when the metrics have a listener of their own', async () => {
    const ops = await startOpsServer({ host: '127.0.0.1', port: 0, health: new Health(), logger });
    servers.push(ops);
    expect((await get(ops, '/metrics')).status).toBe(404);
    expect((await get(ops, '/health/ready')).status).toBe(200);
  });

  it('the metrics listener serves /metrics and nothing else', async () => {
    const metrics = await startMetricsServer({ host: '127.0.0.1', port: 0, registry: registry(), logger });
    servers.push(metrics!);
    expect((await get(metrics!, '/metrics')).body).toContain('ops_test_total{service="ops-test"} 1');
    expect((await get(metrics!, '/health/live')).status).toBe(404);
  });

  it('no metrics listener is started without a port', async () => {
    expect(await startMetricsServer({ host: '127.0.0.1', port: undefined, registry: registry(), logger })).toBeUndefined();
  });
});
