import { Client, Pool, type PoolClient, type PoolConfig } from 'pg';
import { Gauge, type Registry } from 'prom-client';

export type { Pool, PoolClient };

export interface PoolOptions {
  url: string;
  applicationName: string;
  max: number;
  /**
   * Connections kept open once opened: the pool closes idle ones after
   * idleTimeoutMs only above this many, so a burst after a quiet spell does
   * not wait for new connections (a connection's start-up took about 20 ms
   * here). The pool does not open them ahead of use.
   */
  min?: number;
  /** How long a connection above `min` may sit idle before the pool closes it (30 s). */
  idleTimeoutMs?: number;
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
  /**
   * Send statements without waiting for the answers to those before them
   * (node-postgres pipeline mode; each statement still has its own result and
   * error). withTransaction then sends BEGIN with a transaction's first
   * statement, and COMMIT with its last (commitBehind). Cursors, COPY and
   * custom query objects are refused on such a pool.
   */
  pipeline?: boolean;
}

/**
 * A pipelined client whose statements sent within one turn of the event loop
 * leave in one write: BEGIN with a transaction's first statement, the last
 * statement with COMMIT. Each write to a socket is a system call (and wakes
 * the server's backend once); on small virtual machines that is a large part
 * of a statement's cost on both sides.
 */
class TickBatchingClient extends Client {
  private corked = false;

  // @ts-expect-error one override for pg's overloads: the arguments are passed through as they are
  override query(...args: unknown[]): unknown {
    const stream = this.connection.stream;
    if (!this.corked) {
      this.corked = true;
      stream.cork();
      process.nextTick(() => {
        this.corked = false;
        stream.uncork();
      });
    }
    return (super.query as (...a: unknown[]) => unknown)(...args);
  }
}

export function createPool(options: PoolOptions): Pool {
  const config: PoolConfig = {
    connectionString: options.url,
    application_name: options.applicationName,
    max: options.max,
    min: Math.min(options.min ?? 0, options.max),
    connectionTimeoutMillis: options.connectionTimeoutMs ?? 5_000,
    idleTimeoutMillis: options.idleTimeoutMs ?? 30_000,
    // Sent in the startup packet, so every connection has them before its first query.
    ...(options.statementTimeoutMs !== undefined && { statement_timeout: options.statementTimeoutMs }),
    ...(options.idleInTransactionTimeoutMs !== undefined && {
      idle_in_transaction_session_timeout: options.idleInTransactionTimeoutMs,
    }),
    ...(options.genericPlans && { options: '-c plan_cache_mode=force_generic_plan' }),
    ...(options.pipeline && { pipeline: true, Client: TickBatchingClient as unknown as new () => Client }),
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

/** A transaction in withTransaction: its deferred statements, and its BEGIN and COMMIT when they went out pipelined. */
interface OpenTransaction {
  pipelined: boolean;
  deferred: string[];
  /** Settles with BEGIN's outcome (pipelined pools: BEGIN is not waited for before the first statement). */
  begun?: Promise<unknown>;
  /** Set once COMMIT is on its way (commitBehind or withTransaction's own). */
  commit?: Promise<unknown>;
}

const open = new WeakMap<PoolClient, OpenTransaction>();

function openTransaction(client: PoolClient, caller: string): OpenTransaction {
  const tx = open.get(client);
  if (!tx || tx.commit) throw new Error(`${caller} needs a client inside withTransaction, before its commit`);
  return tx;
}

/**
 * Sends `sql` in the same round trip as the transaction's COMMIT (simple
 * query protocol: literal SQL, no parameters), inside withTransaction only.
 * If it fails, nothing of the transaction is committed. For a statement
 * whose only purpose is to run before the commit, such as the outbox's delete.
 */
export function deferUntilCommit(client: PoolClient, sql: string): void {
  openTransaction(client, 'deferUntilCommit').deferred.push(sql);
}

/**
 * In a pipelined pool (PoolOptions.pipeline), sends the deferred statements
 * and COMMIT now, right behind the statements already sent, without waiting
 * for their results: the transaction's last round trip carries its last
 * statement and its commit. PostgreSQL runs them in order; when a statement
 * before them fails, the transaction is aborted, the deferred statements fail
 * and nothing commits (withTransaction then rejects). Call it only once
 * nothing the callback still has to decide could undo the transaction; a
 * callback that throws afterwards still gets its error to its caller, though
 * the commit may have happened. In other pools it does nothing, and
 * withTransaction commits after the callback as usual. Pass the statements sent
 * since the last await as `sent`: a callback still running after its
 * transaction timed out gets an error here, and they would otherwise reject
 * unobserved.
 */
export function commitBehind(client: PoolClient, ...sent: Promise<unknown>[]): void {
  // The statements sent just before, awaited by the caller after this returns: handled now, so that
  // when this throws (the transaction timed out and its client is gone) their failure is not an
  // unhandled rejection, which would end the process.
  for (const statement of sent) void settled(statement);
  const tx = openTransaction(client, 'commitBehind');
  if (!tx.pipelined) return;
  tx.commit = settled(client.query(commitStatement(tx)));
}

function commitStatement(tx: OpenTransaction): string {
  return tx.deferred.length > 0 ? `${tx.deferred.join(';\n')};\nCOMMIT` : 'COMMIT';
}

/** The promise, with its rejection handled for now: it is awaited later, or dropped with the transaction. */
function settled<T>(promise: Promise<T>): Promise<T> {
  promise.catch(() => undefined);
  return promise;
}

/**
 * Runs fn in a transaction on one pooled client. A client whose transaction
 * failed mid-way is destroyed rather than returned, so a connection in an
 * unknown state never serves another request. Statements deferred with
 * deferUntilCommit go in the COMMIT's round trip.
 *
 * In a pipelined pool, BEGIN is sent without waiting for its answer, so it
 * shares a round trip with fn's first statement, and fn may send COMMIT
 * behind its last statement (commitBehind): a transaction of two statements
 * then costs two round trips, not four. BEGIN is one simple query that can
 * fail only with its connection, and then the statements behind it fail too.
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
  const tx: OpenTransaction = { pipelined: (pool.options as { pipeline?: boolean }).pipeline === true, deferred: [] };
  // Never looser than the pool's own per-statement cap.
  const cap = (pool.options as PoolConfig).statement_timeout;
  const statementMs =
    timeoutMs === undefined ? undefined : Math.ceil(typeof cap === 'number' && cap > 0 ? Math.min(cap, timeoutMs) : timeoutMs);
  const work = async (): Promise<T> => {
    open.set(client, tx);
    const begin = client.query(statementMs === undefined ? 'BEGIN' : `BEGIN; SET LOCAL statement_timeout = ${statementMs}`);
    if (tx.pipelined) tx.begun = settled(begin);
    else await begin;
    const result = await fn(client);
    await tx.begun;
    if (timedOut) throw broken ?? new TransactionTimeout(timeoutMs ?? 0);
    tx.commit ??= client.query(commitStatement(tx));
    await tx.commit;
    return result;
  };
  try {
    if (timeoutMs === undefined) return await work();
    return await new Promise<T>((resolve, reject) => {
      timer = setTimeout(() => {
        if (tx.commit) return;
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
    open.delete(client);
    clearTimeout(timer);
    client.off('error', onError);
    // release(err) ends the connection: the server rolls the transaction back when the socket closes.
    client.release(broken);
  }
}
