import type { Pool } from 'pg';
import { withTransaction } from '@sluice/db';
import { resolveReview, type SagaTimings } from '../saga/saga';
import { SagaStore } from '../saga/saga-store';

export interface SagaUnderReview {
  withdrawalId: string;
  walletId: string;
  amount: number;
  currency: string;
  reason: string | null;
  what: string | null;
  providerReference: string | null;
  since: Date | null;
}

export interface OpenConflict {
  withdrawalId: string;
  sagaState: string;
  reported: string;
  payoutId: string;
  source: string;
  detectedAt: Date;
}

export interface Resolution {
  withdrawalId: string;
  outcome: 'paid' | 'failed';
  by: string;
  note: string;
  /** The provider's payout id, when the person found it (paid). */
  providerReference?: string;
}

/** What operators look at and decide on: sagas under review and contradicting final answers. */
export class ReviewStore {
  private readonly sagas: SagaStore;

  constructor(
    private readonly pool: Pool,
    private readonly timings: Omit<SagaTimings, 'now'>,
  ) {
    this.sagas = new SagaStore(pool);
  }

  async underReview(): Promise<SagaUnderReview[]> {
    const { rows } = await this.pool.query<{
      withdrawal_id: string;
      wallet_id: string;
      amount: string;
      currency: string;
      review_reason: string | null;
      last_error: string | null;
      provider_reference: string | null;
      review_at: Date | null;
    }>(
      `SELECT withdrawal_id, wallet_id, amount, currency, review_reason, last_error, provider_reference, review_at
         FROM payment_sagas WHERE state = 'needs_review' ORDER BY review_at, withdrawal_id`,
    );
    return rows.map((r) => ({
      withdrawalId: r.withdrawal_id,
      walletId: r.wallet_id,
      amount: Number(r.amount),
      currency: r.currency,
      reason: r.review_reason,
      what: r.last_error,
      providerReference: r.provider_reference,
      since: r.review_at,
    }));
  }

  async openConflicts(): Promise<OpenConflict[]> {
    const { rows } = await this.pool.query<{
      withdrawal_id: string;
      saga_state: string;
      reported_status: string;
      payout_id: string;
      source: string;
      detected_at: Date;
    }>(
      `SELECT withdrawal_id, saga_state, reported_status, payout_id, source, detected_at
         FROM payment_conflicts WHERE acknowledged_at IS NULL ORDER BY detected_at`,
    );
    return rows.map((r) => ({
      withdrawalId: r.withdrawal_id,
      sagaState: r.saga_state,
      reported: r.reported_status,
      payoutId: r.payout_id,
      source: r.source,
      detectedAt: r.detected_at,
    }));
  }

  /**
   * Resolves a saga under review in one transaction: its new state, the
   * wallet commands (sent by the worker's dispatcher), and who decided and
   * why. Refuses a saga that is not under review.
   */
  async resolve(r: Resolution, now = Date.now()): Promise<void> {
    await withTransaction(this.pool, async (client) => {
      const saga = await this.sagas.lock(client, r.withdrawalId);
      if (!saga) throw new Error(`no saga for withdrawal ${r.withdrawalId}`);
      const decision = resolveReview(saga, r.outcome, r.providerReference ?? null, { ...this.timings, now });
      await this.sagas.apply(client, r.withdrawalId, decision);
      await client.query(
        `UPDATE payment_sagas SET resolution = $2, resolved_by = $3, resolution_note = $4, resolved_at = now()
          WHERE withdrawal_id = $1`,
        [r.withdrawalId, r.outcome, r.by.slice(0, 255), r.note],
      );
    });
  }

  /** Marks a contradicting answer as looked at (who and when); resolves with how many were open. */
  async acknowledgeConflicts(withdrawalId: string, by: string): Promise<number> {
    const { rowCount } = await this.pool.query(
      `UPDATE payment_conflicts SET acknowledged_by = $2, acknowledged_at = now()
        WHERE withdrawal_id = $1 AND acknowledged_at IS NULL`,
      [withdrawalId, by.slice(0, 255)],
    );
    return rowCount ?? 0;
  }
}
