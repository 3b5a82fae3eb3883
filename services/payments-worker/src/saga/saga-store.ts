import { randomUUID } from 'node:crypto';
import type { Pool, PoolClient } from 'pg';
import { withTransaction } from '@sluice/db';
import { activeTraceparent } from '@sluice/observability';
import { finishingCommands, type Decision, type Saga, type SagaState, type WalletCommand } from './saga';

interface Row {
  withdrawal_id: string;
  wallet_id: string;
  amount: string;
  currency: string;
  state: SagaState;
  provider: string;
  provider_reference: string | null;
  attempts: number;
  requested_at: Date;
  submitted_at: Date | null;
  idempotency_key: string;
  send_uncertain: boolean;
  look_up_first: boolean;
  traceparent: string | null;
}

/** A saga as stored: with the trace its steps continue (the span that handled its WithdrawalRequested). */
export interface StoredSaga extends Saga {
  readonly traceparent: string | null;
}

export interface ClaimedSaga extends StoredSaga {
  readonly idempotencyKey: string;
  readonly leaseToken: string;
}

function toSaga(r: Row): StoredSaga {
  return {
    withdrawalId: r.withdrawal_id,
    walletId: r.wallet_id,
    amount: Number(r.amount),
    currency: r.currency,
    state: r.state,
    provider: r.provider,
    providerReference: r.provider_reference,
    attempts: r.attempts,
    requestedAt: r.requested_at,
    submittedAt: r.submitted_at,
    sendUncertain: r.send_uncertain,
    lookUpFirst: r.look_up_first,
    traceparent: r.traceparent,
  };
}

export interface NewSaga {
  withdrawalId: string;
  walletId: string;
  amount: number;
  currency: string;
  requestedAt: Date;
  idempotencyKey: string;
  provider: string;
  /** An old withdrawal: look its payout up before sending anything. */
  lookUpFirst?: boolean;
  /** The span that handled its WithdrawalRequested, which the saga's steps and commands continue. */
  traceparent?: string | undefined;
}

/** The wallet's view of a withdrawal, ranked: a later event never moves it back. */
const WALLET_RANK: Record<string, number> = { requested: 0, submitted: 1, completed: 2, compensated: 2 };

/** payment_sagas and payment_commands: claims, decisions and the wallet's confirmations. */
export class SagaStore {
  constructor(private readonly pool: Pool) {}

  /** Starts sagas for requested withdrawals; one already known is left as it is (redelivered events). */
  async insert(client: PoolClient, sagas: readonly NewSaga[]): Promise<number> {
    if (sagas.length === 0) return 0;
    const { rowCount } = await client.query(
      `INSERT INTO payment_sagas (withdrawal_id, wallet_id, amount, currency, state, idempotency_key, provider,
                                  next_attempt_at, requested_at, updated_at, look_up_first, traceparent)
       SELECT w, wa, a, c, 'requested', k, p, now(), r, now(), l, tp
         FROM unnest($1::uuid[], $2::uuid[], $3::int8[], $4::char(3)[], $5::varchar[], $6::varchar[], $7::timestamptz[], $8::boolean[], $9::varchar[])
           AS t(w, wa, a, c, k, p, r, l, tp)
       ON CONFLICT (withdrawal_id) DO NOTHING`,
      [
        sagas.map((s) => s.withdrawalId),
        sagas.map((s) => s.walletId),
        sagas.map((s) => s.amount),
        sagas.map((s) => s.currency),
        sagas.map((s) => s.idempotencyKey),
        sagas.map((s) => s.provider),
        sagas.map((s) => s.requestedAt),
        sagas.map((s) => s.lookUpFirst === true),
        sagas.map((s) => s.traceparent ?? null),
      ],
    );
    return rowCount ?? 0;
  }

  /** Records how far the wallet's own events have taken each withdrawal (never backwards). */
  async confirm(client: PoolClient, updates: ReadonlyMap<string, string>): Promise<void> {
    if (updates.size === 0) return;
    const ids = [...updates.keys()];
    await lockInOrder(client, ids);
    await client.query(
      `UPDATE payment_sagas s SET wallet_state = u.state, updated_at = now()
         FROM unnest($1::uuid[], $2::varchar[], $3::int[]) AS u(id, state, rank)
        WHERE s.withdrawal_id = u.id
          AND u.rank > CASE s.wallet_state WHEN 'requested' THEN 0 WHEN 'submitted' THEN 1 ELSE 2 END`,
      [ids, ids.map((id) => updates.get(id)!), ids.map((id) => WALLET_RANK[updates.get(id)!] ?? 0)],
    );
  }

  /**
   * Leases up to `limit` due sagas for a step (parked ones too when
   * `includeParked`, for the half-open trial). A lease that ran out (its
   * worker died) is taken over.
   */
  async claim(limit: number, leaseMs: number, includeParked: boolean): Promise<ClaimedSaga[]> {
    if (limit <= 0) return [];
    const token = randomUUID();
    const { rows } = await this.pool.query<Row>(
      `UPDATE payment_sagas s SET lease_until = now() + make_interval(secs => $2::float8 / 1000), lease_token = $3, parked_at = NULL
        WHERE s.withdrawal_id IN (
          SELECT withdrawal_id FROM payment_sagas
           WHERE state IN ('requested', 'submitted')
             AND (parked_at IS NULL AND next_attempt_at <= now() OR $4 AND parked_at IS NOT NULL)
             AND (lease_until IS NULL OR lease_until < now())
           ORDER BY parked_at NULLS LAST, next_attempt_at
           LIMIT $1 FOR UPDATE SKIP LOCKED)
        RETURNING s.*`,
      [limit, leaseMs, token, includeParked],
    );
    return rows.map((r) => ({ ...toSaga(r), idempotencyKey: r.idempotency_key, leaseToken: token }));
  }

  /**
   * Milliseconds until the next open saga falls due (its next attempt, or the end of a lease
   * another worker holds); Infinity when none is open. 0 when one is due already.
   */
  async msUntilNextDue(): Promise<number> {
    const { rows } = await this.pool.query<{ ms: number | null }>(
      `SELECT greatest(0, extract(epoch FROM min(greatest(next_attempt_at, coalesce(lease_until, next_attempt_at))) - now()) * 1000)::float8 AS ms
         FROM payment_sagas WHERE state IN ('requested', 'submitted') AND parked_at IS NULL`,
    );
    return rows[0]?.ms ?? Infinity;
  }

  /** Parks the sagas that fell due while the circuit is open: they wait, visibly, and do not fail. */
  async parkDue(): Promise<number> {
    const { rowCount } = await this.pool.query(
      `UPDATE payment_sagas SET parked_at = now(), updated_at = now()
        WHERE state IN ('requested', 'submitted') AND parked_at IS NULL AND next_attempt_at <= now()
          AND (lease_until IS NULL OR lease_until < now())`,
    );
    return rowCount ?? 0;
  }

  /** The circuit closed: every parked saga is due now. */
  async unparkAll(): Promise<number> {
    const { rowCount } = await this.pool.query(
      `UPDATE payment_sagas SET parked_at = NULL, next_attempt_at = now(), updated_at = now() WHERE parked_at IS NOT NULL`,
    );
    return rowCount ?? 0;
  }

  /** Locks and reads one saga in the caller's transaction. */
  async lock(client: PoolClient, withdrawalId: string): Promise<StoredSaga | undefined> {
    const { rows } = await client.query<Row>('SELECT * FROM payment_sagas WHERE withdrawal_id = $1 FOR UPDATE', [withdrawalId]);
    return rows[0] && toSaga(rows[0]);
  }

  /**
   * Writes a decision: the saga's new state and its wallet commands, in the caller's transaction.
   * Releases the lease. The commands carry the traceparent of the span active here (the step or
   * webhook that decided them), which the command API continues.
   */
  async apply(client: PoolClient, withdrawalId: string, decision: Decision, leaseToken?: string): Promise<void> {
    const p = decision.patch;
    await client.query(
      `UPDATE payment_sagas SET
         state = COALESCE($2, state),
         provider_reference = CASE WHEN $3::boolean THEN $4 ELSE provider_reference END,
         attempts = COALESCE($5, attempts),
         next_attempt_at = COALESCE($6, next_attempt_at),
         parked_at = CASE WHEN $7::boolean IS NULL THEN parked_at WHEN $7 THEN COALESCE(parked_at, now()) ELSE NULL END,
         submitted_at = COALESCE(submitted_at, $8),
         finished_at = COALESCE(finished_at, $9),
         failure_reason = COALESCE($10, failure_reason),
         last_error = CASE WHEN $11::boolean THEN $12 ELSE last_error END,
         lease_until = CASE WHEN lease_token = $13 THEN NULL ELSE lease_until END,
         lease_token = CASE WHEN lease_token = $13 THEN NULL ELSE lease_token END,
         send_uncertain = COALESCE($14, send_uncertain),
         review_reason = COALESCE($15, review_reason),
         review_at = CASE WHEN $15::varchar IS NULL THEN review_at ELSE now() END,
         updated_at = now()
       WHERE withdrawal_id = $1`,
      [
        withdrawalId,
        p.state ?? null,
        p.providerReference !== undefined,
        p.providerReference ?? null,
        p.attempts ?? null,
        p.nextAttemptAt ?? null,
        p.parked ?? null,
        p.submittedAt ?? null,
        p.finishedAt ?? null,
        p.failureReason ?? null,
        p.lastError !== undefined,
        p.lastError ?? null,
        leaseToken ?? null,
        p.sendUncertain ?? null,
        p.reviewReason ?? null,
      ],
    );
    await appendCommands(client, decision.commands, activeTraceparent());
  }

  /** Records a final answer that contradicts the saga's end, in the caller's transaction (once per source event). */
  async recordConflict(
    client: PoolClient,
    withdrawalId: string,
    conflict: NonNullable<Decision['conflict']>,
    source: { kind: 'webhook' | 'look_up'; eventId: string | null },
  ): Promise<boolean> {
    const { rowCount } = await client.query(
      `INSERT INTO payment_conflicts (withdrawal_id, saga_state, reported_status, payout_id, source, event_id)
       VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING`,
      [withdrawalId, conflict.sagaState, conflict.reported, conflict.payoutId, source.kind, source.eventId],
    );
    return rowCount === 1;
  }

  /** Gives a lease back without a decision (the step could not run). */
  async release(withdrawalId: string, leaseToken: string): Promise<void> {
    await this.pool.query(
      'UPDATE payment_sagas SET lease_until = NULL, lease_token = NULL WHERE withdrawal_id = $1 AND lease_token = $2',
      [withdrawalId, leaseToken],
    );
  }

  /**
   * Finished sagas whose wallet has not shown the end by their confirmation
   * time: their finishing commands are appended again (same ids) and the next
   * check is `reconfirmMs` later. Resolves with the withdrawals resent.
   */
  async resendUnconfirmed(reconfirmMs: number, limit: number): Promise<string[]> {
    return withTransaction(this.pool, async (client) => {
      const { rows } = await client.query<Row & { failure_reason: string | null }>(
        `SELECT * FROM payment_sagas
          WHERE state IN ('completed', 'failed') AND next_attempt_at <= now()
            AND NOT (state = 'completed' AND wallet_state = 'completed')
            AND NOT (state = 'failed' AND wallet_state = 'compensated')
          ORDER BY withdrawal_id LIMIT $1 FOR UPDATE SKIP LOCKED`,
        [limit],
      );
      if (rows.length === 0) return [];
      // Each saga's commands again, in its own trace.
      for (const r of rows)
        await appendCommands(client, finishingCommands(toSaga(r), r.failure_reason), r.traceparent ?? undefined);
      await client.query(
        `UPDATE payment_sagas SET next_attempt_at = now() + make_interval(secs => $2::float8 / 1000), updated_at = now()
          WHERE withdrawal_id = ANY($1::uuid[])`,
        [rows.map((r) => r.withdrawal_id), reconfirmMs],
      );
      return rows.map((r) => r.withdrawal_id);
    });
  }

  async countNeedingReview(): Promise<number> {
    const { rows } = await this.pool.query<{ n: string }>(
      "SELECT count(*)::text AS n FROM payment_sagas WHERE state = 'needs_review'",
    );
    return Number(rows[0]?.n ?? 0);
  }

  /** True when no saga was ever recorded: a fresh store. */
  async isEmpty(): Promise<boolean> {
    const { rows } = await this.pool.query('SELECT 1 FROM payment_sagas LIMIT 1');
    return rows.length === 0;
  }

  /** Sagas by state (active ones split by parked), for the queue-depth gauge. */
  async depth(): Promise<{ state: string; parked: boolean; n: number }[]> {
    const { rows } = await this.pool.query<{ state: string; parked: boolean; n: string }>(
      `SELECT state, parked_at IS NOT NULL AS parked, count(*)::text AS n FROM payment_sagas
        WHERE state IN ('requested', 'submitted') GROUP BY 1, 2`,
    );
    return rows.map((r) => ({ state: r.state, parked: r.parked, n: Number(r.n) }));
  }
}

/**
 * Locks the sagas a transaction will change, in id order: transactions that
 * touch several sagas (a batch of events, of webhooks) then never wait on
 * each other in a cycle.
 */
export async function lockInOrder(client: PoolClient, ids: readonly string[]): Promise<void> {
  if (ids.length === 0) return;
  await client.query('SELECT 1 FROM payment_sagas WHERE withdrawal_id = ANY($1::uuid[]) ORDER BY withdrawal_id FOR UPDATE', [
    [...new Set(ids)],
  ]);
}

/**
 * Appends wallet commands to the worker's outbox, with the traceparent they are to carry; a command
 * already there (same id) is not added twice.
 */
export async function appendCommands(
  client: PoolClient,
  commands: readonly WalletCommand[],
  traceparent?: string,
): Promise<void> {
  if (commands.length === 0) return;
  await client.query(
    `INSERT INTO payment_commands (command_id, wallet_id, type, body, traceparent)
     SELECT c, w, t, b, $5 FROM unnest($1::uuid[], $2::uuid[], $3::varchar[], $4::text[]) AS x(c, w, t, b)
     ON CONFLICT (command_id) DO NOTHING`,
    [
      commands.map((c) => c.commandId),
      commands.map((c) => c.walletId),
      commands.map((c) => c.type),
      commands.map((c) => JSON.stringify(c)),
      traceparent ?? null,
    ],
  );
}
