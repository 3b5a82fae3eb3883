import { Counter, Gauge, type Registry } from 'prom-client';
import { canRead, type Principal, type TokenVerifier } from '@sluice/auth';
import type { Logger } from '@sluice/observability';
import type { WithdrawalRecord } from '@sluice/projection-withdrawals';
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

export type Transport = 'sse' | 'websocket';

export type RefusalReason = 'unauthenticated' | 'origin' | 'capacity' | 'principal_limit';

/** States after which a withdrawal does not change again (but `failed`, which a compensation follows). */
export const FINAL = new Set(['completed', 'failed', 'compensated']);

/**
 * What the two transports share: who may connect (origin, connection and
 * per-principal limits), who may read a withdrawal, following a withdrawal's
 * states from the read model, each connection's outbound queue, and the
 * metrics of all of it. A transport asks for admission, tracks its
 * connection here, and only encodes and writes.
 */
export class StreamHub {
  private readonly aborts = new Set<AbortController>();
  private readonly perPrincipal = new Map<string, number>();
  private readonly refusals: Counter<'transport' | 'reason'>;
  private readonly connections: Gauge<'transport'>;
  private readonly messages: Counter<'transport' | 'priority'>;
  private readonly drops: Counter<'transport' | 'reason'>;
  private open = 0;

  constructor(
    readonly reader: WithdrawalReader,
    private readonly wallets: WalletReader,
    readonly auth: StreamAuth,
    readonly options: StreamOptions,
    readonly logger: Logger,
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
    this.refusals = new Counter({
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

  refused(transport: Transport, reason: RefusalReason): void {
    this.refusals.inc({ transport, reason });
  }

  /** No Origin: not a browser (curl, a service). With one, it must be allowed. */
  originAllowed(origin: string | string[] | undefined): boolean {
    return origin === undefined || (typeof origin === 'string' && this.auth.allowedOrigins.includes(origin));
  }

  /** Whether the connection limit over both transports is reached. */
  get full(): boolean {
    return this.open >= this.options.maxConnections;
  }

  /** Counts a connection of the principal, if under its limit; track releases it when the connection ends. */
  admitPrincipal(principal: Principal): boolean {
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
  async mayRead(principal: Principal, w: WithdrawalRecord): Promise<boolean> {
    if (canRead(principal, null)) return true;
    return canRead(principal, (await this.wallets.find(w.walletId))?.owner);
  }

  /**
   * Feeds every state of the withdrawal newer than `afterVersion` to `emit`
   * until its final state or the signal. Resolves false when the read model
   * did not know the withdrawal within notFoundMs, or it is not the
   * principal's to read (told apart from nothing: both are not found).
   */
  async follow(
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

  /** A connection's bounded, rate-limited outbound queue, counted under its transport. */
  queueFor(transport: Transport, io: { write: (m: OutboundMessage) => boolean; onSlowConsumer: () => void }): OutboundQueue {
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

  heartbeat(signal: AbortSignal, queue: OutboundQueue, beat: () => void): void {
    const timer = setInterval(() => queue.idle && beat(), this.options.heartbeatMs);
    signal.addEventListener('abort', () => clearInterval(timer));
  }

  /** Counts an open connection until the returned controller aborts (the connection ended, or close). */
  track(transport: Transport, principal: Principal): AbortController {
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

  /** Ends every tracked connection. */
  close(): void {
    for (const a of this.aborts) a.abort();
  }
}
