import { createServer, connect, type Server, type Socket } from 'node:net';

/**
 * A TCP proxy on loopback in front of a real service, which a test closes
 * (every connection dropped, new ones refused) and opens again on the same
 * port: an outage of that service for the clients behind the proxy only.
 * It can also freeze: no byte passes either way and no connection is closed,
 * as in a network partition, until it thaws.
 */
export class TcpProxy {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private readonly pairs = new Set<Pair>();
  private frozen = false;

  private constructor(
    private readonly target: { host: string; port: number },
    public port: number,
  ) {}

  /** Proxies to `url`'s host and port; `url` comes back with the proxy's port in `proxyUrl`. */
  static async start(url: string): Promise<TcpProxy> {
    const u = new URL(url);
    const proxy = new TcpProxy({ host: u.hostname, port: Number(u.port || (u.protocol === 'https:' ? 443 : 80)) }, 0);
    await proxy.open();
    return proxy;
  }

  /** `url` with its host and port replaced by the proxy's. */
  via(url: string): string {
    const u = new URL(url);
    u.hostname = '127.0.0.1';
    u.port = String(this.port);
    return u.toString().replace(/\/$/, url.endsWith('/') ? '/' : '');
  }

  get isOpen(): boolean {
    return this.server !== undefined;
  }

  get isFrozen(): boolean {
    return this.frozen;
  }

  async open(): Promise<void> {
    if (this.server) return;
    const server = createServer((client) => {
      const pair: Pair = { client, upstream: connect(this.target.port, this.target.host), closedWhileFrozen: false };
      this.pairs.add(pair);
      for (const [s, other] of [
        [pair.client, pair.upstream],
        [pair.upstream, pair.client],
      ] as const) {
        this.sockets.add(s);
        s.on('error', () => undefined);
        s.on('close', () => {
          this.sockets.delete(s);
          // A partition passes no close on either: the other end learns of it at thaw().
          if (this.frozen) pair.closedWhileFrozen = true;
          else {
            other.destroy();
            this.pairs.delete(pair);
          }
        });
      }
      if (!this.frozen) forward(pair);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    const address = server.address();
    if (typeof address === 'object' && address) this.port = address.port;
    this.server = server;
  }

  /**
   * Stops every byte, either way, on open connections and on those accepted from now on, and
   * passes on no close: to each end the other falls silent, as in a network partition.
   */
  freeze(): void {
    if (this.frozen) return;
    this.frozen = true;
    for (const { client, upstream } of this.pairs) {
      client.unpipe(upstream);
      upstream.unpipe(client);
      client.pause();
      upstream.pause();
    }
  }

  /** Forwards again what was held back, and passes on the closes that happened while frozen. */
  thaw(): void {
    if (!this.frozen) return;
    this.frozen = false;
    for (const pair of this.pairs) {
      if (pair.closedWhileFrozen) {
        pair.client.destroy();
        pair.upstream.destroy();
        this.pairs.delete(pair);
      } else forward(pair);
    }
  }

  /** Refuses new connections and drops the open ones (thawing first). */
  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    this.frozen = false;
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    this.pairs.clear();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

interface Pair {
  client: Socket;
  upstream: Socket;
  closedWhileFrozen: boolean;
}

function forward({ client, upstream }: Pair): void {
  client.pipe(upstream);
  upstream.pipe(client);
}
