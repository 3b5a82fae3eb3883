import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Counter, Gauge, type Registry } from 'prom-client';
import { WebSocketServer, type WebSocket } from 'ws';
import { UUID_PATTERN } from '@sluice/core';
import type { Logger } from '@sluice/observability';
import type { WithdrawalRecord } from '@sluice/projection-withdrawals';
import { TokenBucket } from '@sluice/resilience';
import { toResponse } from '../get-withdrawal.http';
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
  /** A stream of a withdrawal the read model does not know is ended after this. */
  notFoundMs: number;
}

const FINAL = new Set(['completed', 'failed', 'compensated']);
const WS_PATH = '/v1/withdrawals/stream';

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
 */
export class WithdrawalStreams {
  private readonly aborts = new Set<AbortController>();
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: 4 * 1024 });
  private readonly connections: Gauge<'transport'>;
  private readonly messages: Counter<'transport' | 'priority'>;
  private readonly drops: Counter<'transport' | 'reason'>;
  private open = 0;

  constructor(
    private readonly reader: WithdrawalReader,
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
      if (this.open >= this.options.maxConnections) {
        socket.end('HTTP/1.1 503 Service Unavailable\r\nretry-after: 1\r\ncontent-length: 0\r\n\r\n');
        return;
      }
      this.wss.handleUpgrade(req, socket, head, (ws) => this.websocket(ws));
    });
  }

  /** Ends every stream (shutdown): clients reconnect elsewhere and resume. */
  close(): void {
    for (const a of this.aborts) a.abort();
    for (const ws of this.wss.clients) ws.close(1001, 'shutting down');
    this.wss.close();
  }

  private sse(request: FastifyRequest, reply: FastifyReply): void {
    const { withdrawalId: raw } = request.params as { withdrawalId?: string };
    if (!raw || !UUID_PATTERN.test(raw)) {
      void reply
        .code(400)
        .type('application/problem+json')
        .send(problem(400, 'validation_failed', 'path.withdrawalId: must be a UUID'));
      return;
    }
    if (this.open >= this.options.maxConnections) {
      void reply
        .code(503)
        .header('retry-after', '1')
        .type('application/problem+json')
        .send(problem(503, 'overloaded', 'too many streams'));
      return;
    }
    const withdrawalId = raw.toLowerCase();
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
    const abort = this.track('sse');
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
    void this.follow(withdrawalId, lastEventId, abort.signal, (w) => {
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

  private websocket(ws: WebSocket): void {
    const abort = this.track('websocket');
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
      void this.follow(id, last, sub.signal, (w) =>
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
   * did not know the withdrawal within notFoundMs.
   */
  private async follow(
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

  private track(transport: 'sse' | 'websocket'): AbortController {
    const abort = new AbortController();
    this.aborts.add(abort);
    this.open++;
    this.connections.inc({ transport });
    abort.signal.addEventListener('abort', () => {
      this.aborts.delete(abort);
      this.open--;
      this.connections.dec({ transport });
    });
    return abort;
  }
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
