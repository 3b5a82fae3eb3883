import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { AuthError, requireReadScope, type Principal } from '@sluice/auth';
import { UUID_PATTERN } from '@sluice/core';
import { authenticate, authProblem } from '@sluice/http';
import { TokenBucket } from '@sluice/resilience';
import { toResponse } from '../get-withdrawal.http';
import { FINAL, type RefusalReason, type StreamHub } from './stream-hub';

export const WS_PATH = '/v1/withdrawals/stream';
/** The subprotocol a WebSocket client offers, with `bearer.<token>` beside it when it cannot send an Authorization header. */
export const WS_PROTOCOL = 'sluice.v1';
const WS_BEARER_PREFIX = 'bearer.';

/**
 * WebSocket: GET /v1/withdrawals/stream (upgrade). The client sends
 * {"type":"subscribe","withdrawalId","lastEventId"?} / {"type":"unsubscribe",…}
 * and gets {"type":"status","eventId","withdrawal":{…}} for each change.
 * The upgrade bypasses the front door, so it authenticates here; a refusal
 * is a bare HTTP answer on the socket.
 */
export class WebSocketStreams {
  private readonly wss = new WebSocketServer({
    noServer: true,
    maxPayload: 4 * 1024,
    handleProtocols: (protocols) => (protocols.has(WS_PROTOCOL) ? WS_PROTOCOL : false),
  });

  constructor(private readonly hub: StreamHub) {}

  async upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const refuse = (status: string, reason: RefusalReason, headers: Record<string, string> = {}) => {
      this.hub.refused('websocket', reason);
      const extra = Object.entries(headers)
        .map(([k, v]) => `${k}: ${v}\r\n`)
        .join('');
      socket.end(`HTTP/1.1 ${status}\r\n${extra}content-length: 0\r\nconnection: close\r\n\r\n`);
    };
    if (!this.hub.originAllowed(req.headers.origin)) return refuse('403 Forbidden', 'origin');
    let principal: Principal;
    try {
      principal = await authenticate(
        req.headers.authorization ?? protocolBearer(req.headers['sec-websocket-protocol']),
        this.hub.auth.verifier,
      );
      requireReadScope(principal);
    } catch (err) {
      if (!(err instanceof AuthError)) throw err;
      const problem = authProblem(err, this.hub.auth.realm);
      return refuse(`${problem.status} ${problem.title}`, 'unauthenticated', problem.headers);
    }
    if (this.hub.full) return refuse('503 Service Unavailable', 'capacity', { 'retry-after': '1' });
    if (!this.hub.admitPrincipal(principal)) return refuse('429 Too Many Requests', 'principal_limit', { 'retry-after': '1' });
    this.wss.handleUpgrade(req, socket, head, (ws) => this.connection(ws, principal));
  }

  /** Closes every connection (after the hub ended their streams). */
  close(): void {
    for (const ws of this.wss.clients) ws.close(1001, 'shutting down');
    this.wss.close();
  }

  private connection(ws: WebSocket, principal: Principal): void {
    const { options } = this.hub;
    const abort = this.hub.track('websocket', principal);
    const subscriptions = new Map<string, AbortController>();
    const inbound = new TokenBucket({ ratePerSec: options.ratePerSec, capacity: options.burst }, Date.now());
    const send = (payload: unknown, final = false, key = '') => queue.push({ key, final, payload: JSON.stringify(payload) });
    const queue = this.hub.queueFor('websocket', {
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
    }, options.heartbeatMs);
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
      if (subscriptions.size >= options.maxSubscriptions) {
        return send({
          type: 'error',
          code: 'too_many_subscriptions',
          detail: `at most ${options.maxSubscriptions} per connection`,
          withdrawalId: id,
        });
      }
      const sub = new AbortController();
      subscriptions.set(id, sub);
      const last = Number(msg.lastEventId ?? 0) || 0;
      void this.hub
        .follow(principal, id, last, sub.signal, (w) =>
          send({ type: 'status', eventId: String(w.version), withdrawal: toResponse(w) }, FINAL.has(w.state), w.withdrawalId),
        )
        .then((found) => {
          subscriptions.delete(id);
          if (!found && !sub.signal.aborted) send({ type: 'error', code: 'withdrawal_not_found', withdrawalId: id });
        });
    });
  }
}

/** The token of a `bearer.<token>` subprotocol (browsers' WebSocket cannot send Authorization). */
function protocolBearer(header: string | undefined): string | undefined {
  const offered = header?.split(',').map((p) => p.trim()) ?? [];
  const bearer = offered.find((p) => p.startsWith(WS_BEARER_PREFIX));
  return bearer === undefined ? undefined : `Bearer ${bearer.slice(WS_BEARER_PREFIX.length)}`;
}
