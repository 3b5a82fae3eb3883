import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import type { Logger } from '@sluice/observability';
import type { WalletReader } from '../../wallets/wallet-reader';
import type { WithdrawalReader } from '../withdrawal-reader';
import { serveSse } from './sse-stream';
import { StreamHub, type StreamAuth, type StreamOptions } from './stream-hub';
import { WebSocketStreams, WS_PATH } from './websocket-stream';

/**
 * Status push for withdrawals, on top of WithdrawalReader.watch (driven by
 * the projector's change notifications), over two transports: server-sent
 * events (sse-stream.ts) and WebSocket (websocket-stream.ts), which share
 * one StreamHub. Each connection has a bounded outbound queue, a message
 * rate limit, and drops intermediate states on overflow, never a final one
 * (see OutboundQueue).
 *
 * Both authenticate as every other endpoint does (a bearer token with a read
 * scope; the SSE route passes the front door, the upgrade checks itself). A
 * browser's WebSocket cannot set headers: it offers the subprotocols
 * `sluice.v1` and `bearer.<token>`, and the server selects `sluice.v1` (the
 * token is never echoed). A request with an Origin header (a browser's) must
 * come from AUTH_ALLOWED_ORIGINS. A withdrawal of another subject's wallet
 * is answered exactly as one that does not exist.
 */
export class WithdrawalStreams {
  private readonly hub: StreamHub;
  private readonly websockets: WebSocketStreams;

  constructor(
    reader: WithdrawalReader,
    wallets: WalletReader,
    auth: StreamAuth,
    options: StreamOptions,
    private readonly logger: Logger,
    registry: Registry,
  ) {
    this.hub = new StreamHub(reader, wallets, auth, options, logger, registry);
    this.websockets = new WebSocketStreams(this.hub);
  }

  /** Registers the SSE route and the WebSocket upgrade; call before the app listens. */
  install(fastify: FastifyInstance, server: Server): void {
    fastify.get('/v1/withdrawals/:withdrawalId/events', (request, reply) => serveSse(this.hub, request, reply));
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      if ((req.url ?? '').split('?')[0] !== WS_PATH) return; // not ours: another upgrade handler, or none
      this.websockets.upgrade(req, socket, head).catch((err: unknown) => {
        this.logger.warn({ err }, 'websocket upgrade failed');
        socket.destroy();
      });
    });
  }

  /** Ends every stream (shutdown): clients reconnect elsewhere and resume. */
  close(): void {
    this.hub.close();
    this.websockets.close();
  }
}
