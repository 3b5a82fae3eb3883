import { setTimeout as sleep } from 'node:timers/promises';
import { Client } from 'pg';
import type { Logger } from '@sluice/observability';

/**
 * One active relay per slot: the leader holds a session-level advisory lock on
 * a connection of its own. Standbys try for it every pollMs; a leader that
 * dies (even by kill -9) loses its connection and with it the lock, so a
 * standby takes over within about pollMs.
 */
export class LeaderLock {
  private client: Client | undefined;
  private lostHandler: (() => void) | undefined;

  constructor(
    private readonly url: string,
    private readonly key: string,
    private readonly pollMs: number,
    private readonly logger: Logger,
  ) {}

  get held(): boolean {
    return this.client !== undefined;
  }

  /** Resolves true once the lock is held, false if `stopped()` turned true first. */
  async acquire(stopped: () => boolean, onWaiting: () => void): Promise<boolean> {
    let announced = false;
    while (!stopped()) {
      const client = new Client({ connectionString: this.url, application_name: 'sluice-outbox-relay-leader' });
      client.on('error', () => undefined);
      try {
        await client.connect();
        const { rows } = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock(hashtext($1)) AS ok', [this.key]);
        if (rows[0]?.ok) {
          this.hold(client);
          return true;
        }
      } catch (err) {
        this.logger.warn({ err: String(err) }, 'leader election: PostgreSQL unreachable');
      }
      await client.end().catch(() => undefined);
      if (!announced) {
        announced = true;
        onWaiting();
        this.logger.info({ key: this.key }, 'another relay holds the slot; waiting as a standby');
      }
      await sleep(this.pollMs);
    }
    return false;
  }

  /** Called once if the lock's connection drops while held. */
  onLost(handler: () => void): void {
    this.lostHandler = handler;
  }

  async release(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    if (!client) return;
    await client.query('SELECT pg_advisory_unlock(hashtext($1))', [this.key]).catch(() => undefined);
    await client.end().catch(() => undefined);
  }

  private hold(client: Client): void {
    this.client = client;
    const lost = () => {
      if (this.client !== client) return;
      this.client = undefined;
      this.logger.warn('lost the leader lock connection');
      this.lostHandler?.();
    };
    client.on('error', lost);
    client.on('end', lost);
  }
}
