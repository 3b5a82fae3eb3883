import { Pool, type PoolClient, type PoolConfig } from 'pg';
import { Gauge, type Registry } from 'prom-client';

export type { Pool, PoolClient };

export interface PoolOptions {
  url: string;
  applicationName: string;
  max: number;
  /** Server-side cap on one statement; shorter than the request deadline. */
  statementTimeoutMs?: number;
  /** Server-side cap on an idle open transaction (a stuck client holding locks). */
  idleInTransactionTimeoutMs?: number;
  connectionTimeoutMs?: number;
  /**
   * Plan prepared statements once, for any parameters (plan_cache_mode = force_generic_plan).
   * For pools whose statements are primary-key lookups and writes, where a custom plan per
   * execution buys nothing, and large ones (a batch's statement) cost milliseconds to replan.
   */
  genericPlans?: boolean;
}

export function createPool(options: PoolOptions): Pool {
  const config: PoolConfig = {
    connectionString: options.url,
    application_name: options.applicationName,
    max: options.max,
    connectionTimeoutMillis: options.connectionTimeoutMs ?? 5_000,
    idleTimeoutMillis: 30_000,
    // Sent in the startup packet, so every connection has them before its first query.
    ...(options.statementTimeoutMs !== undefined && { statement_timeout: options.statementTimeoutMs }),
    ...(options.idleInTransactionTimeoutMs !== undefined && {
      idle_in_transaction_session_timeout: options.idleInTransactionTimeoutMs,
    }),
    ...(options.genericPlans && { options: '-c plan_cache_mode=force_generic_plan' }),
  };
  const pool = new Pool(config);
  // An idle client that loses its connection must not crash the process; the
  // pool drops it and the next checkout opens a fresh one.
  pool.on('error', () => undefined);
  return pool;
}

/** Pool occupancy as gauges, read at scrape time. */
export function registerPoolMetrics(pool: Pool, registry: Registry, name: string): void {
  const labelNames = ['pool'] as const;
  new Gauge({
    name: 'sluice_db_pool_connections',
    help: 'Connections in the pool by state (total, idle, in_use)',
    labelNames: ['pool', 'state'],
    registers: [registry],
    collect() {
      this.set({ pool: name, state: 'total' }, pool.totalCount);
      this.set({ pool: name, state: 'idle' }, pool.idleCount);
      this.set({ pool: name, state: 'in_use' }, pool.totalCount - pool.idleCount);
    },
  });
  new Gauge({
    name: 'sluice_db_pool_waiting',
    help: 'Requests waiting for a pool connection',
    labelNames,
    registers: [registry],
    collect() {
      this.set({ pool: name }, pool.waitingCount);
    },
  });
  new Gauge({
    name: 'sluice_db_pool_max',
    help: 'The pool size limit',
    labelNames,
    registers: [registry],
    collect() {
      this.set({ pool: name }, pool.options.max ?? 10);
    },
  });
}

export interface TransactionOptions {
  /**
   * The caller's remaining time budget. The transaction's statements get it as
   * their statement_timeout (SET LOCAL, sent with BEGIN in one round trip), and
   * a client still busy when it runs out is destroyed, not returned to the
   * pool: the caller gets TransactionTimeout at once instead of waiting. Once
   * COMMIT is sent it is waited for: cutting it off would leave the caller
   * unsure whether the transaction happened.
   */
  timeoutMs?: number;
}

/** The transaction outlived its caller's deadline; its connection was closed. */
export class TransactionTimeout extends Error {
  readonly code = 'transaction_timeout';
  constructor(timeoutMs: number) {
    super(`the transaction did not finish within ${timeoutMs} ms; its connection was closed`);
  }
}

/** Clients inside withTransaction, with the statements deferred to their COMMIT. */
const deferred = new WeakMap<PoolClient, string[]>();

/**
 * Sends `sql` in the same round trip as the transaction's COMMIT (simple
 * query protocol: literal SQL, no parameters), inside withTransaction only.
 * If it fails, nothing of the transaction is committed. For a statement
 * whose only purpose is to run before the commit, such as the outbox's delete.
 */
export function deferUntilCommit(client: PoolClient, sql: string): void {
  const list = deferred.get(client);
  if (!list) throw new Error('deferUntilCommit needs a client inside withTransaction');
  list.push(sql);
}

/**
 * Runs fn in a transaction on one pooled client. A client whose transaction
 * failed mid-way is destroyed rather than returned, so a connection in an
 * unknown state never serves another request. Statements deferred with
 * deferUntilCommit go in the COMMIT's round trip.
 */
export async function withTransaction<T>(
  pool: Pool,
  fn: (client: PoolClient) => Promise<T>,
  options: TransactionOptions = {},
): Promise<T> {
  const { timeoutMs } = options;
  if (timeoutMs !== undefined && timeoutMs <= 0) throw new TransactionTimeout(0);
  const client = await pool.connect();
  let broken: Error | undefined;
  let timer: NodeJS.Timeout | undefined;
  let timedOut = false;
  // The server can end the connection between two statements (a restart, an admin's kill): pg then
  // emits 'error' on the client, which would crash the process without a listener. The next
  // statement fails anyway; the client is destroyed on release.
  const onError = (err: Error) => {
    broken ??= err;
  };
  client.on('error', onError);
  let committing = false;
  // Never looser than the pool's own per-statement cap.
  const cap = (pool.options as PoolConfig).statement_timeout;
  const statementMs =
    timeoutMs === undefined ? undefined : Math.ceil(typeof cap === 'number' && cap > 0 ? Math.min(cap, timeoutMs) : timeoutMs);
  const work = async (): Promise<T> => {
    deferred.set(client, []);
    await client.query(statementMs === undefined ? 'BEGIN' : `BEGIN; SET LOCAL statement_timeout = ${statementMs}`);
    const result = await fn(client);
    if (timedOut) throw broken ?? new TransactionTimeout(timeoutMs ?? 0);
    committing = true;
    const before = deferred.get(client) ?? [];
    deferred.delete(client);
    await client.query(before.length > 0 ? `${before.join(';\n')};\nCOMMIT` : 'COMMIT');
    return result;
  };
  try {
    if (timeoutMs === undefined) return await work();
    return await new Promise<T>((resolve, reject) => {
      timer = setTimeout(() => {
        if (committing) return;
        timedOut = true;
        broken = new TransactionTimeout(timeoutMs);
        reject(broken);
      }, timeoutMs);
      work().then(resolve, reject);
    });
  } catch (err) {
    if (!timedOut) {
      try {
        await client.query('ROLLBACK');
      } catch (rollbackErr) {
        broken = rollbackErr instanceof Error ? rollbackErr : new Error(String(rollbackErr));
      }
    }
    throw err;
  } finally {
    deferred.delete(client);
    clearTimeout(timer);
    client.off('error', onError);
    // release(err) ends the connection: the server rolls the transaction back when the socket closes.
    client.release(broken);
  }
}
