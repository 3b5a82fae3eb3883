import { Agent, request } from 'node:http';

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

/**
 * A keep-alive HTTP/1.1 client for one origin. node:http rather than fetch:
 * it costs the generator less CPU per request, which on a small machine is
 * CPU the server under test keeps. Status 0 is a transport failure.
 */
export class HttpTarget implements LoadTarget {
  private readonly agent: Agent;
  private readonly url: URL;

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
    this.agent = new Agent({ keepAlive: true, maxSockets: connections, maxFreeSockets: connections });
  }

  send(req: LoadRequest): Promise<LoadResponse> {
    return this.attempt(req, true);
  }

  private attempt(req: LoadRequest, mayRetry: boolean): Promise<LoadResponse> {
    return new Promise((resolve) => {
      const body = req.body === undefined ? undefined : Buffer.from(req.body);
      const r = request(
        {
          agent: this.agent,
          host: this.url.hostname,
          port: this.url.port,
          method: req.method,
          path: req.path,
          timeout: this.timeoutMs,
          headers: {
            ...(body && { 'content-type': 'application/json', 'content-length': String(body.length) }),
            ...(this.stampRequestStart && { 'x-request-start': `t=${Date.now()}` }),
            ...req.headers,
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const ra: string | string[] | undefined = res.headers['retry-after'];
            resolve({
              status: res.statusCode ?? 0,
              retryAfter: typeof ra === 'string' ? ra : ra?.[0],
              body: Buffer.concat(chunks).toString(),
            });
          });
          res.on('error', () => resolve({ status: 0, retryAfter: undefined, body: '' }));
        },
      );
      r.on('timeout', () => r.destroy(new Error('timeout')));
      r.on('error', (err: Error & { code?: string }) => {
        // A kept-alive socket the server closed just as this request went out: the request never
        // arrived, so it is sent again once (as browsers do; the benches' writes carry Idempotency-Keys).
        if (mayRetry && r.reusedSocket && err.code === 'ECONNRESET') resolve(this.attempt(req, false));
        else resolve({ status: 0, retryAfter: undefined, body: err.message });
      });
      if (body) r.write(body);
      r.end();
    });
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
    this.agent.destroy();
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
