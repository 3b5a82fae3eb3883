import { createHash, randomUUID } from 'node:crypto';
import { Counter, type Registry } from 'prom-client';
import type { Faults } from './faults';
import { newEvent, type WebhookSender } from './webhooks';

export type PayoutStatus = 'pending' | 'paid' | 'failed';

export interface Payout {
  payoutId: string;
  /** The caller's reference: the withdrawal id. */
  reference: string;
  amount: number;
  currency: string;
  status: PayoutStatus;
  failureCode: string | null;
  createdAt: string;
  /** When the money left (paid), else null. */
  executedAt: string | null;
}

export interface PayoutRequest {
  reference: string;
  amount: number;
  currency: string;
}

export type CreateResult = { kind: 'created' | 'replayed'; payout: Payout } | { kind: 'key_reused'; payout: Payout };

/**
 * The provider's books, in memory: payouts by id, by idempotency key and by
 * reference. A key names one payout for ever: the same key again gets that
 * payout back and executes nothing. A payout is pending when accepted and
 * settles (paid, or failed when declined) `settleMs` later, announcing each
 * state by webhook.
 */
export class Provider {
  private readonly byId = new Map<string, Payout>();
  private readonly byKey = new Map<string, { fingerprint: string; payoutId: string }>();
  private readonly byReference = new Map<string, string[]>();
  private readonly executed: Payout[] = [];
  private readonly outcomes: Counter<'outcome'>;

  constructor(
    private readonly settleMs: number,
    private readonly faults: () => Faults,
    private readonly webhooks: WebhookSender,
    registry: Registry,
  ) {
    this.outcomes = new Counter({
      name: 'psp_payouts_total',
      help: 'Payouts by outcome: created, replayed (same idempotency key), paid, declined',
      labelNames: ['outcome'],
      registers: [registry],
    });
  }

  create(key: string, request: PayoutRequest, now = Date.now()): CreateResult {
    const fingerprint = createHash('sha256')
      .update(JSON.stringify([request.reference, request.amount, request.currency]))
      .digest('hex');
    const known = this.byKey.get(key);
    if (known) {
      const payout = this.byId.get(known.payoutId)!;
      if (known.fingerprint !== fingerprint) return { kind: 'key_reused', payout };
      this.outcomes.inc({ outcome: 'replayed' });
      return { kind: 'replayed', payout };
    }
    const payout: Payout = {
      payoutId: `po_${randomUUID()}`,
      reference: request.reference,
      amount: request.amount,
      currency: request.currency,
      status: 'pending',
      failureCode: null,
      createdAt: new Date(now).toISOString(),
      executedAt: null,
    };
    this.byId.set(payout.payoutId, payout);
    this.byKey.set(key, { fingerprint, payoutId: payout.payoutId });
    this.byReference.set(request.reference, [...(this.byReference.get(request.reference) ?? []), payout.payoutId]);
    this.outcomes.inc({ outcome: 'created' });
    const faults = this.faults();
    const declined = Math.random() < faults.declineRate;
    // Out of order: the pending webhook is held back until after the final one.
    const reorder = Math.random() < faults.webhookReorderRate;
    this.webhooks.send(newEvent('payout.pending', { ...payout }), reorder ? this.settleMs + 300 : 0);
    setTimeout(() => this.settle(payout, declined), this.settleMs).unref();
    return { kind: 'created', payout };
  }

  find(payoutId: string): Payout | undefined {
    return this.byId.get(payoutId);
  }

  findByReference(reference: string): Payout[] {
    return (this.byReference.get(reference) ?? []).map((id) => this.byId.get(id)!);
  }

  /** Every payout that moved money, in the order it did. */
  executedPayouts(): readonly Payout[] {
    return this.executed;
  }

  stats(): { payouts: number; executed: number; pending: number } {
    let pending = 0;
    for (const p of this.byId.values()) if (p.status === 'pending') pending++;
    return { payouts: this.byId.size, executed: this.executed.length, pending };
  }

  private settle(payout: Payout, declined: boolean): void {
    if (declined) {
      payout.status = 'failed';
      payout.failureCode = 'declined';
      this.outcomes.inc({ outcome: 'declined' });
      this.webhooks.send(newEvent('payout.failed', { ...payout }));
      return;
    }
    payout.status = 'paid';
    payout.executedAt = new Date().toISOString();
    this.executed.push(payout);
    this.outcomes.inc({ outcome: 'paid' });
    this.webhooks.send(newEvent('payout.paid', { ...payout }));
  }
}
