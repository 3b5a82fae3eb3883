import { setTimeout as sleep } from 'node:timers/promises';
import { Client } from 'pg';
import { errorMessage } from '@sluice/core';
import type { Logger } from '@sluice/observability';
import { LockWatch, TIMED_OUT, within, type LeaderLostReason } from './leader-watch';
import type { RelayMetrics } from './metrics';

export interface LeaderLockOptions {
  url: string;
  key: string;
  /** How often a standby tries for the lock. */
  pollMs: number;
  /** TCP keepalive of the lock's connection, set on both ends. */
  keepalive: { idleSec: number; intervalSec: number; count: number };
  /** How often the leader asks PostgreSQL whether it still holds the lock, and how long it waits for the answer. */
  checkMs: number;
  checkTimeoutMs: number;
}

export interface KeepaliveSettings {
  idle: string;
  interval: string;
  count: string;
}

// A session lock on pg_advisory_lock(bigint): classid holds the key's high 32 bits, objid the low ones.
const HOLDS_LOCK = `
  SELECT EXISTS (
    SELECT 1 FROM pg_locks
     WHERE locktype = 'advisory' AND granted AND objsubid = 1
       AND pid = pg_backend_pid()
       AND ((classid::bigint << 32) | objid::bigint) = hashtext($1)::bigint
  ) AS held`;

/**
 * One active relay per slot: the leader holds a session-level advisory lock on
 * a connection of its own. Standbys try for it every pollMs; a leader that
 * dies (even by kill -9) loses its connection and with it the lock, so a
 * standby takes over within about pollMs.
 *
 * A leader cut off from PostgreSQL is the other way to lose it: the server
 * drops the session once its TCP keepalive goes unanswered (idle + interval ×
 * count seconds), and the leader, probing the lock every checkMs, has already
 * stopped by then (checkMs + checkTimeoutMs, which the config keeps shorter).
 */
export class LeaderLock {
  private client: Client | undefined;
  private watch: LockWatch | undefined;
  private lostHandler: (() => void) | undefined;
  private lostRecently = false;

  constructor(
    private readonly options: LeaderLockOptions,
    private readonly metrics: Pick<RelayMetrics, 'leaderLost'>,
    private readonly logger: Logger,
  ) {}

  get held(): boolean {
    return this.client !== undefined;
  }

  /** Resolves true once the lock is held, false if `stopped()` turned true first. */
  async acquire(stopped: () => boolean, onWaiting: () => void): Promise<boolean> {
    let announced = false;
    if (this.lostRecently && !stopped()) {
      // A leader that just lost the lock lets the standbys, whose connections are fine, go first.
      this.lostRecently = false;
      await sleep(2 * this.options.pollMs);
    }
    while (!stopped()) {
      const client = this.connection();
      client.on('error', () => undefined);
      try {
        await client.connect();
        if (await this.tryLock(client)) {
          this.hold(client);
          return true;
        }
      } catch (err) {
        this.logger.warn({ err: String(err) }, 'leader election: PostgreSQL unreachable');
      }
      await this.close(client);
      if (!announced) {
        announced = true;
        onWaiting();
        this.logger.info({ key: this.options.key }, 'another relay holds the slot; waiting as a standby');
      }
      await sleep(this.options.pollMs);
    }
    return false;
  }

  /** Called once when the lock is lost while held: its connection ended, or a check failed. */
  onLost(handler: () => void): void {
    this.lostHandler = handler;
  }

  /** The server-side keepalive of the lock's session, as PostgreSQL applies it (0: the OS default). */
  async keepalive(): Promise<KeepaliveSettings | undefined> {
    if (!this.client) return undefined;
    const { rows } = await this.client.query<KeepaliveSettings>(
      `SELECT current_setting('tcp_keepalives_idle') AS idle, current_setting('tcp_keepalives_interval') AS interval,
              current_setting('tcp_keepalives_count') AS count`,
    );
    return rows[0];
  }

  async release(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    this.watch?.stop();
    this.watch = undefined;
    if (!client) return;
    await within(
      client.query('SELECT pg_advisory_unlock(hashtext($1))', [this.options.key]).catch(() => undefined),
      this.options.checkTimeoutMs,
    );
    await this.close(client);
  }

  private connection(): Client {
    return new Client({
      connectionString: this.options.url,
      application_name: 'sluice-outbox-relay-leader',
      connectionTimeoutMillis: this.options.checkTimeoutMs,
      // Client side: Node sets only the idle time; the interval and count are the OS's.
      keepAlive: true,
      keepAliveInitialDelayMillis: this.options.keepalive.idleSec * 1000,
    });
  }

  /** Sets the session's server-side keepalive, then tries for the lock; each step under the check deadline. */
  private async tryLock(client: Client): Promise<boolean> {
    const { idleSec, intervalSec, count } = this.options.keepalive;
    const set = await within(
      client.query(
        `SELECT set_config('tcp_keepalives_idle', $1, false), set_config('tcp_keepalives_interval', $2, false),
                set_config('tcp_keepalives_count', $3, false)`,
        [String(idleSec), String(intervalSec), String(count)],
      ),
      this.options.checkTimeoutMs,
    );
    if (set === TIMED_OUT) throw new Error('setting keepalive timed out');
    const locked = await within(
      client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock(hashtext($1)) AS ok', [this.options.key]),
      this.options.checkTimeoutMs,
    );
    if (locked === TIMED_OUT) throw new Error('pg_try_advisory_lock timed out');
    return locked.rows[0]?.ok === true;
  }

  private hold(client: Client): void {
    this.client = client;
    client.on('error', (err) => this.lose(client, 'connection_ended', err));
    client.on('end', () => this.lose(client, 'connection_ended'));
    this.watch = new LockWatch(
      async () => (await client.query<{ held: boolean }>(HOLDS_LOCK, [this.options.key])).rows[0]?.held === true,
      { everyMs: this.options.checkMs, timeoutMs: this.options.checkTimeoutMs },
      ({ reason, err }) => this.lose(client, reason, err),
    );
    this.watch.start();
  }

  private lose(client: Client, reason: LeaderLostReason, err?: unknown): void {
    if (this.client !== client) return;
    this.client = undefined;
    this.watch?.stop();
    this.watch = undefined;
    this.lostRecently = true;
    // Whatever PostgreSQL still believes, this process no longer counts on the lock; a
    // connection that stopped answering is closed so it cannot come back holding it.
    client.connection.stream.destroy();
    this.metrics.leaderLost.inc({ reason });
    this.logger.warn(
      { reason, key: this.options.key, ...(err !== undefined && { err: errorMessage(err) }) },
      'lost the leader lock: no longer publishing',
    );
    this.lostHandler?.();
  }

  /** Ends a connection, or destroys it when it does not end in time (a stalled network). */
  private async close(client: Client): Promise<void> {
    const ended = await within(
      client.end().catch(() => undefined),
      this.options.checkTimeoutMs,
    );
    if (ended === TIMED_OUT) client.connection.stream.destroy();
  }
}
