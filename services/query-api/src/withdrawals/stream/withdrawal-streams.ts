import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Counter, Gauge, type Registry } from 'prom-client';
import { WebSocketServer, type WebSocket } from 'ws';
import { AuthError, canRead, requireReadScope, type Principal, type TokenVerifier } from '@sluice/auth';
import { UUID_PATTERN } from '@sluice/core';
import { authenticate, authProblem } from '@sluice/http';
import type { Logger } from '@sluice/observability';
import type { WithdrawalRecord } from '@sluice/projection-withdrawals';
import { TokenBucket } from '@sluice/resilience';
import { toResponse } from '../get-withdrawal.http';
import type { WalletReader } from '../../wallets/wallet-reader';
import type { WithdrawalReader } from '../withdrawal-reader';
import { OutboundQueue, type OutboundMessage } from './outbound-queue';

export interface StreamOptions {
  /** Messages a connection may have waiting; past it intermediate states are dropped, never final ones. */
  queueCapacity: number;
  /** Messages per second per connection, and its burst. */
  ratePerSec: number;
  burst: number;
  /** SSE comment / WebSocket ping interval on an idle connection. */
  heartbeatMs: number;
  /** Withdrawals one WebSocket connection may follow at once. */
  maxSubscriptions: number;
  /** Connections over both transports at once; more are refused (503). */
  maxConnections: number;
  /** Connections of one principal at once, over both transports; more are refused (429). */
  maxConnectionsPerPrincipal: number;
  /** A stream of a withdrawal the read model does not know is ended after this. */
  notFoundMs: number;
}

/** Who may open streams: the front door's verifier (the WebSocket upgrade bypasses the front door) and the browser origins allowed. */
export interface StreamAuth {
  verifier: TokenVerifier;
  realm: string;
  /** Origin values (scheme://host[:port]) browsers may open streams from; a request without Origin is not a browser's. */
  allowedOrigins: readonly string[];
}

const FINAL = new Set(['completed', 'failed', 'compensated']);
const WS_PATH = '/v1/withdrawals/stream';
/** The subprotocol a WebSocket client offers, with `bearer.<token>` beside it when it cannot send an Authorization header. */
export const WS_PROTOCOL = 'sluice.v1';
const WS_BEARER_PREFIX = 'bearer.';

/**
 * Status push for withdrawals, on top of WithdrawalReader.watch (driven by
 * the projector's change notifications):
 * - Server-sent events: GET /v1/withdrawals/{id}/events. Each state is an
 *   event `status` whose id is the withdrawal's version; a reconnect with
 *   Last-Event-ID (or ?lastEventId=) gets only what is newer. The stream
 *   ends after the final state.
 * - WebSocket: GET /v1/withdrawals/stream (upgrade). The client sends
 *   {"type":"subscribe","withdrawalId","lastEventId"?} / {"type":"unsubscribe",…}
 *   and gets {"type":"status","eventId","withdrawal":{…}} for each change.
 * Each connection has a bounded outbound queue, a message rate limit, and
 * drops intermediate states on overflow, never a final one (see OutboundQueue).
 *
 * Both authenticate as every other endpoint does (a bearer token with a read
 * scope; the SSE route passes the front door, the upgrade checks here). A
 * browser's WebSocket cannot set headers: it offers the subprotocols
 * `sluice.v1` and `bearer.<token>`, and the server selects `sluice.v1` (the
 * token is never echoed). A request with an Origin header (a browser's) must
 * come from AUTH_ALLOWED_ORIGINS. A withdrawal of another subject's wallet
 * is answered exactly as one that does not exist.
 */
export class WithdrawalStreams {
  private readonly aborts = new Set<AbortController>();
  private readonly wss = new WebSocketServer({
    noServer: true,
    maxPayload: 4 * 1024,
    handleProtocols: (protocols) => (protocols.has(WS_PROTOCOL) ? WS_PROTOCOL : false),
  });
  private readonly perPrincipal = new Map<string, number>();
  private readonly refused: Counter<'transport' | 'reason'>;
  private readonly connections: Gauge<'transport'>;
  private readonly messages: Counter<'transport' | 'priority'>;
  private readonly drops: Counter<'transport' | 'reason'>;
  private open = 0;

  constructor(
    private readonly reader: WithdrawalReader,
    private readonly wallets: WalletReader,
    private readonly auth: StreamAuth,
    private readonly options: StreamOptions,
    private readonly logger: Logger,
    registry: Registry,
  ) {
    this.connections = new Gauge({
      name: 'sluice_stream_connections',
      help: 'Open status-push connections by transport (sse, websocket)',
      labelNames: ['transport'],
      registers: [registry],
    });
    this.messages = new Counter({
      name: 'sluice_stream_messages_total',
      help: 'Status messages sent, by transport and priority (final, intermediate)',
      labelNames: ['transport', 'priority'],
      registers: [registry],
    });
    this.refused = new Counter({
      name: 'sluice_stream_refused_total',
      help: 'Status-push connections refused, by transport and reason (unauthenticated, origin, capacity, principal_limit)',
      labelNames: ['transport', 'reason'],
      registers: [registry],
    });
    this.drops = new Counter({
      name: 'sluice_stream_dropped_total',
      help: 'Status messages not sent, by transport and reason (superseded, overflow), and connections closed as slow consumers (slow_consumer)',
      labelNames: ['transport', 'reason'],
      registers: [registry],
    });
  }

  /** Registers the SSE route and the WebSocket upgrade; call before the app listens. */
  install(fastify: FastifyInstance, server: Server): void {
    fastify.get('/v1/withdrawals/:withdrawalId/events', (request, reply) => this.sse(request, reply));
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      if ((req.url ?? '').split('?')[0] !== WS_PATH) return; // not ours: another upgrade handler, or none
      this.upgrade(req, socket, head).catch((err: unknown) => {
        this.logger.warn({ err }, 'websocket upgrade failed');
        socket.destroy();
      });
    });
  }

  private async upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const refuse = (status: string, reason: string, headers: Record<string, string> = {}) => {
      this.refused.inc({ transport: 'websocket', reason });
      const extra = Object.entries(headers)
        .map(([k, v]) => `${k}: ${v}\r\n`)
        .join('');
      socket.end(`HTTP/1.1 ${status}\r\n${extra}content-length: 0\r\nconnection: close\r\n\r\n`);
    };
    if (!this.originAllowed(req.headers.origin)) return refuse('403 Forbidden', 'origin');
    let principal: Principal;
    try {
      principal = await authenticate(
        req.headers.authorization ?? protocolBearer(req.headers['sec-websocket-protocol']),
        this.auth.verifier,
      );
      requireReadScope(principal);
    } catch (err) {
      if (!(err instanceof AuthError)) throw err;
      const problem = authProblem(err, this.auth.realm);
      return refuse(`${problem.status} ${problem.title}`, 'unauthenticated', problem.headers);
    }
    if (this.open >= this.options.maxConnections) return refuse('503 Service Unavailable', 'capacity', { 'retry-after': '1' });
    if (!this.admitPrincipal(principal)) return refuse('429 Too Many Requests', 'principal_limit', { 'retry-after': '1' });
    this.wss.handleUpgrade(req, socket, head, (ws) => this.websocket(ws, principal));
  }

  /** No Origin: not a browser (curl, a service). With one, it must be allowed. */
  private originAllowed(origin: string | string[] | undefined): boolean {
    return origin === undefined || (typeof origin === 'string' && this.auth.allowedOrigins.includes(origin));
  }

  private admitPrincipal(principal: Principal): boolean {
    const n = this.perPrincipal.get(principal.subject) ?? 0;
    if (n >= this.options.maxConnectionsPerPrincipal) return false;
    this.perPrincipal.set(principal.subject, n + 1);
    return true;
  }

  private releasePrincipal(principal: Principal): void {
    const n = (this.perPrincipal.get(principal.subject) ?? 1) - 1;
    if (n <= 0) this.perPrincipal.delete(principal.subject);
    else this.perPrincipal.set(principal.subject, n);
  }

  /** Whether the principal may follow the withdrawal: through its wallet's owner. */
  private async mayRead(principal: Principal, w: WithdrawalRecord): Promise<boolean> {
    if (canRead(principal, null)) return true;
    return canRead(principal, (await this.wallets.find(w.walletId))?.owner);
  }

  /** Ends every stream (shutdown): clients reconnect elsewhere and resume. */
  close(): void {
    for (const a of this.aborts) a.abort();
    for (const ws of this.wss.clients) ws.close(1001, 'shutting down');
    this.wss.close();
  }

  private async sse(request: FastifyRequest, reply: FastifyReply): Promise<void> {
    const principal = request.principal;
    if (!principal) throw new Error('the front door let a stream through without a principal');
    if (!this.originAllowed(request.headers.origin)) {
      this.refused.inc({ transport: 'sse', reason: 'origin' });
      void reply
        .code(403)
        .type('application/problem+json')
        .send(problem(403, 'origin_not_allowed', 'this Origin may not open streams'));
      return;
    }
    try {
      requireReadScope(principal);
    } catch (err) {
      const p = authProblem(err as AuthError, this.auth.realm);
      void reply.code(p.status).headers(p.headers).type('application/problem+json').send(JSON.stringify(p.toProblem()));
      return;
    }
    const { withdrawalId: raw } = request.params as { withdrawalId?: string };
    if (!raw || !UUID_PATTERN.test(raw)) {
      void reply
        .code(400)
        .type('application/problem+json')
        .send(problem(400, 'validation_failed', 'path.withdrawalId: must be a UUID'));
      return;
    }
    if (this.open >= this.options.maxConnections) {
      this.refused.inc({ transport: 'sse', reason: 'capacity' });
      void reply
        .code(503)
        .header('retry-after', '1')
        .type('application/problem+json')
        .send(problem(503, 'overloaded', 'too many streams'));
      return;
    }
    const withdrawalId = raw.toLowerCase();
    // Known now and not the caller's: 404, as for a withdrawal that does not exist. Not known yet:
    // the stream waits for it and checks its owner when it appears (follow).
    const now = await this.reader.read(withdrawalId, undefined, 0);
    if (now.value && !(await this.mayRead(principal, now.value))) {
      void reply
        .code(404)
        .type('application/problem+json')
        .send(problem(404, 'withdrawal_not_found', `no withdrawal ${withdrawalId} in the read model`));
      return;
    }
    if (!this.admitPrincipal(principal)) {
      this.refused.inc({ transport: 'sse', reason: 'principal_limit' });
      void reply
        .code(429)
        .header('retry-after', '1')
        .type('application/problem+json')
        .send(problem(429, 'too_many_streams', `at most ${this.options.maxConnectionsPerPrincipal} streams per principal`));
      return;
    }
    const query = request.query as { lastEventId?: string };
    const lastEventId = Number(request.headers['last-event-id'] ?? query.lastEventId ?? 0) || 0;
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    res.write(`retry: 2000\n\n`);
    const abort = this.track('sse', principal);
    let ending = false;
    const end = () => {
      if (ending) return;
      ending = true;
      abort.abort();
      res.end();
    };
    const queue = this.queueFor('sse', {
      write: (m) => res.write(m.payload),
      onSlowConsumer: end,
    });
    res.on('drain', () => queue.resume());
    res.on('close', () => {
      queue.close();
      abort.abort();
    });
    this.heartbeat(abort.signal, queue, () => res.write(': keep-alive\n\n'));
    void this.follow(principal, withdrawalId, lastEventId, abort.signal, (w) => {
      queue.push({
        key: w.withdrawalId,
        final: FINAL.has(w.state),
        payload: `id: ${w.version}\nevent: status\ndata: ${body(w)}\n\n`,
      });
    }).then(async (found) => {
      if (!found) res.write(`event: error\ndata: ${JSON.stringify({ code: 'withdrawal_not_found', withdrawalId })}\n\n`);
      // After the final state (or the give-up) the stream is over, once what is queued went out.
      while (!queue.idle && !abort.signal.aborted) await new Promise((r) => setTimeout(r, 50));
      end();
    });
  }

  private websocket(ws: WebSocket, principal: Principal): void {
    const abort = this.track('websocket', principal);
    const subscriptions = new Map<string, AbortController>();
    const inbound = new TokenBucket({ ratePerSec: this.options.ratePerSec, capacity: this.options.burst }, Date.now());
    const send = (payload: unknown, final = false, key = '') => queue.push({ key, final, payload: JSON.stringify(payload) });
    const queue = this.queueFor('websocket', {
      write: (m) => {
        ws.send(m.payload);
        return ws.bufferedAmount < 256 * 1024;
      },
      onSlowConsumer: () => ws.close(1013, 'slow consumer: reconnect and resume with lastEventId'),
    });
    const drainCheck = setInterval(() => ws.bufferedAmount < 256 * 1024 && queue.resume(), 100);
    ws.on('close', () => {
      clearInterval(drainCheck);
      queue.close();
      abort.abort();
      for (const s of subscriptions.values()) s.abort();
    });
    let alive = true;
    ws.on('pong', () => (alive = true));
    const ping = setInterval(() => {
      if (!alive) return ws.terminate(); // no pong since the last ping: the peer is gone
      alive = false;
      ws.ping();
    }, this.options.heartbeatMs);
    abort.signal.addEventListener('abort', () => clearInterval(ping));
    ws.on('message', (data: Buffer) => {
      if (!inbound.take(Date.now()).ok) return ws.close(1008, 'too many messages');
      let msg: { type?: unknown; withdrawalId?: unknown; lastEventId?: unknown };
      try {
        msg = JSON.parse(data.toString('utf8')) as typeof msg;
      } catch {
        return send({ type: 'error', code: 'malformed_json', detail: 'send JSON messages' });
      }
      const id =
        typeof msg.withdrawalId === 'string' && UUID_PATTERN.test(msg.withdrawalId) ? msg.withdrawalId.toLowerCase() : undefined;
      if (!id || (msg.type !== 'subscribe' && msg.type !== 'unsubscribe')) {
        return send({
          type: 'error',
          code: 'validation_failed',
          detail: 'expected {"type":"subscribe"|"unsubscribe","withdrawalId":"<uuid>"}',
        });
      }
      if (msg.type === 'unsubscribe') {
        subscriptions.get(id)?.abort();
        subscriptions.delete(id);
        return;
      }
      if (subscriptions.has(id)) return;
      if (subscriptions.size >= this.options.maxSubscriptions) {
        return send({
          type: 'error',
          code: 'too_many_subscriptions',
          detail: `at most ${this.options.maxSubscriptions} per connection`,
          withdrawalId: id,
        });
      }
      const sub = new AbortController();
      subscriptions.set(id, sub);
      const last = Number(msg.lastEventId ?? 0) || 0;
      void this.follow(principal, id, last, sub.signal, (w) =>
        send({ type: 'status', eventId: String(w.version), withdrawal: toResponse(w) }, FINAL.has(w.state), w.withdrawalId),
      ).then((found) => {
        subscriptions.delete(id);
        if (!found && !sub.signal.aborted) send({ type: 'error', code: 'withdrawal_not_found', withdrawalId: id });
      });
    });
  }

  /**
   * Feeds every state of the withdrawal newer than `afterVersion` to `emit`
   * until its final state or the signal. Resolves false when the read model
   * did not know the withdrawal within notFoundMs, or it is not the
   * principal's to read (told apart from nothing: both are not found).
   */
  private async follow(
    principal: Principal,
    id: string,
    afterVersion: number,
    signal: AbortSignal,
    emit: (w: WithdrawalRecord) => void,
  ): Promise<boolean> {
    const giveUp = new AbortController();
    const stop = () => giveUp.abort();
    signal.addEventListener('abort', stop);
    let seen = false;
    const timer = setTimeout(() => !seen && giveUp.abort(), this.options.notFoundMs);
    try {
      for await (const w of this.reader.watch(id, giveUp.signal)) {
        if (!seen && !(await this.mayRead(principal, w))) return false;
        seen = true;
        if (w.version > afterVersion) emit(w);
        if (FINAL.has(w.state) && w.state !== 'failed') break;
      }
    } catch (err) {
      this.logger.warn({ err, withdrawalId: id }, 'withdrawal stream failed');
    } finally {
      clearTimeout(timer);
      signal.removeEventListener('abort', stop);
    }
    return seen || signal.aborted;
  }

  private queueFor(
    transport: 'sse' | 'websocket',
    io: { write: (m: OutboundMessage) => boolean; onSlowConsumer: () => void },
  ): OutboundQueue {
    return new OutboundQueue({
      capacity: this.options.queueCapacity,
      ratePerSec: this.options.ratePerSec,
      burst: this.options.burst,
      write: (m) => {
        this.messages.inc({ transport, priority: m.final ? 'final' : 'intermediate' });
        return io.write(m);
      },
      onSlowConsumer: () => {
        this.drops.inc({ transport, reason: 'slow_consumer' });
        io.onSlowConsumer();
      },
      onDrop: (reason) => this.drops.inc({ transport, reason }),
    });
  }

  private heartbeat(signal: AbortSignal, queue: OutboundQueue, beat: () => void): void {
    const timer = setInterval(() => queue.idle && beat(), this.options.heartbeatMs);
    signal.addEventListener('abort', () => clearInterval(timer));
  }

  private track(transport: 'sse' | 'websocket', principal: Principal): AbortController {
    const abort = new AbortController();
    this.aborts.add(abort);
    this.open++;
    this.connections.inc({ transport });
    abort.signal.addEventListener('abort', () => {
      this.aborts.delete(abort);
      this.open--;
      this.connections.dec({ transport });
      this.releasePrincipal(principal);
    });
    return abort;
  }
}

/** The token of a `bearer.<token>` subprotocol (browsers' WebSocket cannot send Authorization). */
function protocolBearer(header: string | undefined): string | undefined {
  const offered = header?.split(',').map((p) => p.trim()) ?? [];
  const bearer = offered.find((p) => p.startsWith(WS_BEARER_PREFIX));
  return bearer === undefined ? undefined : `Bearer ${bearer.slice(WS_BEARER_PREFIX.length)}`;
}

function body(w: WithdrawalRecord): string {
  return JSON.stringify(toResponse(w));
}

function problem(status: number, code: string, detail: string): string {
  return JSON.stringify({
    type: `https://sluice.dev/problems/${code.replace(/_/g, '-')}`,
    title: code.replace(/_/g, ' '),
    status,
    code,
    detail,
  });
}
