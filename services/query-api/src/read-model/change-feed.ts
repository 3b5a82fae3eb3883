import { setTimeout as sleep } from 'node:timers/promises';
import { Client } from 'pg';
import { errorMessage } from '@sluice/core';
import type { Logger } from '@sluice/observability';
import { CHANGES_CHANNEL, decodeChange, type ChangeMessage } from '@sluice/projection-kit';
import { fullJitterDelay } from '@sluice/resilience';

export type ChangeListener = (message: ChangeMessage) => void;

/**
 * The projector's change notifications (LISTEN on one dedicated connection).
 * PostgreSQL delivers a NOTIFY when the projector's transaction commits, so a
 * change is never heard of before it can be read. Notifications are not
 * stored: while the connection is down some may be missed, so every
 * (re)connect is announced as a reset and listeners treat all they hold as
 * void. `connected` is false meanwhile: caching stops and waits poll.
 */
export class ChangeFeed {
  private readonly listeners = new Set<ChangeListener>();
  private readonly resetListeners = new Set<() => void>();
  private client: Client | undefined;
  private stopped = false;
  private running: Promise<void> | undefined;
  connected = false;

  constructor(
    private readonly url: string,
    private readonly logger: Logger,
    private readonly reconnectMaxMs = 5_000,
  ) {}

  subscribe(listener: ChangeListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  onReset(listener: () => void): () => void {
    this.resetListeners.add(listener);
    return () => this.resetListeners.delete(listener);
  }

  /** Connects (retrying in the background when the database is not there yet); resolves after the first attempt. */
  async start(): Promise<void> {
    let first: () => void = () => undefined;
    const attempted = new Promise<void>((resolve) => (first = resolve));
    this.running = this.loop(first);
    await attempted;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.client?.end().catch(() => undefined);
    await this.running;
  }

  private async loop(attempted: () => void): Promise<void> {
    for (let attempt = 1; !this.stopped; attempt++) {
      const client = new Client({ connectionString: this.url, application_name: 'sluice-query-api-listen' });
      const ended = new Promise<void>((resolve) => {
        client.on('end', () => resolve());
        client.on('error', (err) => {
          this.logger.warn({ err }, 'change feed connection failed');
          resolve();
        });
      });
      client.on('notification', (n) => {
        const message = n.payload === undefined ? undefined : decodeChange(n.payload);
        if (message) for (const l of this.listeners) l(message);
      });
      try {
        await client.connect();
        await client.query(`LISTEN ${CHANGES_CHANNEL}`);
        this.client = client;
        this.connected = true;
        attempt = 0;
        this.reset();
        this.logger.info('change feed listening');
        attempted();
        await ended;
      } catch (err) {
        this.logger.warn({ err: errorMessage(err), attempt }, 'change feed cannot connect; retrying');
        attempted();
        await client.end().catch(() => undefined);
      }
      if (this.connected) this.reset();
      this.connected = false;
      this.client = undefined;
      if (!this.stopped) await sleep(fullJitterDelay(Math.min(attempt, 30) + 1, 100, this.reconnectMaxMs));
    }
  }

  private reset(): void {
    for (const l of this.resetListeners) l();
  }
}
