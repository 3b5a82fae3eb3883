import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { Registry } from 'prom-client';
import { boundConnections } from './connection-bounds';

let server: Server;
let registry: Registry;
const sockets: Socket[] = [];

beforeEach(async () => {
  registry = new Registry();
  server = createServer((_req, res) => res.end('ok'));
  boundConnections(
    server,
    { maxConnections: 2, keepAliveTimeoutMs: 5_000, headersTimeoutMs: 1_000, requestTimeoutMs: 2_000 },
    registry,
  );
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
});

afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

async function open(): Promise<Socket> {
  const socket = connect({ port: (server.address() as AddressInfo).port, host: '127.0.0.1' });
  sockets.push(socket);
  await once(socket, 'connect');
  return socket;
}

const value = async (name: string) => (await registry.getSingleMetric(name)!.get()).values[0]?.value;

describe('boundConnections', () => {
  it('closes a connection beyond the bound as it is accepted, and counts it', async () => {
    await open();
    await open();
    const third = await open();
    await once(third, 'close');
    expect(await value('sluice_http_connections_refused_total')).toBe(1);
    expect(await value('sluice_http_connections')).toBe(2);
    expect(await value('sluice_http_connections_max')).toBe(2);
  });

  it('frees the place of a closed connection', async () => {
    const first = await open();
    await open();
    first.destroy();
    await new Promise((r) => setTimeout(r, 50));
    const again = await open();
    again.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    const [answer] = (await once(again, 'data')) as [Buffer];
    expect(answer.toString()).toMatch(/^HTTP\/1\.1 200/);
    expect(await value('sluice_http_connections_refused_total')).toBe(0);
  });

  it('sets the timeouts, headers never longer than the whole request', () => {
    expect(server.keepAliveTimeout).toBe(5_000);
    expect(server.headersTimeout).toBe(1_000);
    expect(server.requestTimeout).toBe(2_000);
  });
});
