import { connect, createServer, type Server, type Socket } from 'node:net';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { TcpProxy } from './tcp-proxy';

/** An echo server on loopback that remembers its connections. */
async function echoServer(): Promise<{ server: Server; url: string; accepted: Socket[] }> {
  const accepted: Socket[] = [];
  const server = createServer((s) => {
    accepted.push(s);
    s.on('error', () => undefined);
    s.pipe(s);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  if (typeof address !== 'object' || !address) throw new Error('no address');
  return { server, url: `tcp://127.0.0.1:${address.port}`, accepted };
}

async function dial(proxy: TcpProxy): Promise<Socket> {
  const s = connect(proxy.port, '127.0.0.1');
  s.on('error', () => undefined);
  await once(s, 'connect');
  return s;
}

/** Resolves with what arrives on `s` within `ms`, as text. */
async function received(s: Socket, ms: number): Promise<string> {
  let text = '';
  const onData = (b: Buffer) => (text += b.toString());
  s.on('data', onData);
  await sleep(ms);
  s.off('data', onData);
  return text;
}

describe('TcpProxy', () => {
  let echo: Awaited<ReturnType<typeof echoServer>>;
  let proxy: TcpProxy;
  const clients: Socket[] = [];

  beforeEach(async () => {
    echo = await echoServer();
    proxy = await TcpProxy.start(echo.url);
  });

  afterEach(async () => {
    for (const c of clients.splice(0)) c.destroy();
    await proxy.close();
    for (const s of echo.accepted) s.destroy();
    await new Promise<void>((r) => echo.server.close(() => r()));
  });

  it('forwards both ways', async () => {
    const c = await dial(proxy);
    clients.push(c);
    c.write('ping');
    expect(await received(c, 100)).toBe('ping');
  });

  it('frozen, holds bytes back without closing, and delivers them on thaw', async () => {
    const c = await dial(proxy);
    clients.push(c);
    c.write('before');
    expect(await received(c, 100)).toBe('before');

    proxy.freeze();
    let closed = false;
    c.on('close', () => (closed = true));
    c.write('during');
    expect(await received(c, 300)).toBe('');
    expect(closed).toBe(false);

    proxy.thaw();
    expect(await received(c, 200)).toBe('during');
  });

  it('frozen, freezes new connections too', async () => {
    proxy.freeze();
    const c = await dial(proxy);
    clients.push(c);
    c.write('hello');
    expect(await received(c, 300)).toBe('');
    proxy.thaw();
    expect(await received(c, 200)).toBe('hello');
  });

  it('frozen, passes on a close only at thaw, as a partition would', async () => {
    const c = await dial(proxy);
    c.write('x');
    expect(await received(c, 100)).toBe('x');
    const server = echo.accepted[0]!;
    let serverClosed = false;
    server.on('close', () => (serverClosed = true));

    proxy.freeze();
    c.destroy();
    await sleep(300);
    expect(serverClosed).toBe(false);

    proxy.thaw();
    await sleep(200);
    expect(serverClosed).toBe(true);
  });
});
