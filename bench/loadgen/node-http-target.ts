import { Agent, request } from 'node:http';
import type { LoadRequest, LoadResponse, LoadTarget } from './http-target';

/**
 * A plain client, as most users' code is: Node's `http` with a keep-alive
 * agent of `connections` sockets, no X-Request-Start, no client id. Requests
 * beyond the free sockets wait in the agent's queue (that wait counts in
 * their latency). Costs the generator more CPU per request than HttpTarget;
 * it stands for what real clients send, not for a cheap generator. Status 0
 * is a transport failure (reset, refused connection, timeout).
 */
export class NodeHttpTarget implements LoadTarget {
  private readonly url: URL;
  private readonly agent: Agent;
  /**
   * Per answered request: when it was sent (performance.now()), its status and the time from send() to the end of its answer, which
   * leaves out how late the generator itself sent it (the open model charges that, from the
   * intended send time).
   */
  readonly sent: { at: number; status: number; ms: number }[] = [];

  constructor(
    origin: string,
    readonly connections: number,
    private readonly timeoutMs = 30_000,
  ) {
    this.url = new URL(origin);
    this.agent = new Agent({ keepAlive: true, maxSockets: connections, maxFreeSockets: connections, scheduling: 'lifo' });
  }

  send(req: LoadRequest): Promise<LoadResponse> {
    const at = performance.now();
    return new Promise<LoadResponse>((resolve) => {
      const headers: Record<string, string | number> = { ...req.headers };
      if (req.body !== undefined) {
        headers['content-type'] = 'application/json';
        headers['content-length'] = Buffer.byteLength(req.body);
      }
      const r = request(
        {
          agent: this.agent,
          host: this.url.hostname,
          port: Number(this.url.port || 80),
          method: req.method,
          path: req.path,
          headers,
          timeout: this.timeoutMs,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const retryAfter = res.headers['retry-after'];
            resolve({ status: res.statusCode ?? 0, retryAfter, body: Buffer.concat(chunks).toString() });
          });
          res.on('error', (err) => resolve({ status: 0, retryAfter: undefined, body: err.message }));
        },
      );
      r.on('timeout', () => r.destroy(new Error('timeout')));
      r.on('error', (err) => resolve({ status: 0, retryAfter: undefined, body: err.message }));
      r.end(req.body);
    }).then((res) => {
      this.sent.push({ at, status: res.status, ms: performance.now() - at });
      return res;
    });
  }

  /** Opens every socket up front, one cheap request each, so the run measures the server, not handshakes. */
  async warm(path: string): Promise<number> {
    const results = await Promise.all(Array.from({ length: this.connections }, () => this.send({ method: 'GET', path })));
    return results.filter((r) => r.status >= 200 && r.status < 300).length;
  }

  close(): void {
    this.agent.destroy();
  }
}
