import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { Pool } from 'pg';
import { withTransaction } from '@sluice/db';
import type { Logger, Tracer } from '@sluice/observability';
import type { PollWait } from '../poll-wait';
import type { ProviderGateway } from '../provider/provider-gateway';
import { REVIEW_REASONS } from '../provider/provider-answers';
import { afterNotFound, decide, nextStep, type Decision, type Outcome, type SagaTimings } from './saga';
import type { ClaimedSaga, SagaStore } from './saga-store';
import { inSagaTrace } from './saga-trace';

export interface SagaRunnerOptions {
  poll: PollWait;
  leaseMs: number;
  timings: Omit<SagaTimings, 'now'>;
}

/**
 * Drives due sagas: claims as many as the provider's bulkhead has room for,
 * runs each one's step (send the payout, or look it up), and writes the
 * decision with its wallet commands in one transaction. It asks the circuit
 * first: while it is open nothing is claimed and due sagas are parked; when
 * it turns half-open one saga goes as the trial; when it closes every parked
 * saga is due again.
 */
export class SagaRunner {
  private readonly inFlight = new Set<Promise<void>>();
  private stopped = false;
  private loop: Promise<void> | undefined;
  private readonly steps: Counter<'action'>;
  private readonly resent: Counter;
  private nextReconfirmCheck = 0;
  private readonly duration: Histogram<'outcome'>;
  private readonly reviews: Counter<'reason'>;

  constructor(
    private readonly pool: Pool,
    private readonly store: SagaStore,
    private readonly gateway: ProviderGateway,
    private readonly options: SagaRunnerOptions,
    private readonly logger: Logger,
    registry: Registry,
    private readonly onCommands: () => void,
    /** Each step a span of its withdrawal's trace (when recorded); unset, none. */
    private readonly tracer?: Tracer,
  ) {
    this.steps = new Counter({
      name: 'sluice_payments_saga_steps_total',
      help: 'Saga decisions by action (submitted, completed, failed, retry_later, parked, wait_for_answer, ignored)',
      labelNames: ['action'],
      registers: [registry],
    });
    this.resent = new Counter({
      name: 'sluice_payments_commands_resent_total',
      help: 'Finishing commands sent again because the wallet had not confirmed the end of the saga in time',
      registers: [registry],
    });
    this.duration = new Histogram({
      name: 'sluice_payments_saga_seconds',
      help: 'From the withdrawal request to the saga’s final state, by outcome',
      labelNames: ['outcome'],
      buckets: [0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600],
      registers: [registry],
    });
    this.reviews = new Counter({
      name: 'sluice_payments_reviews_total',
      help: 'Sagas put aside for review because the provider did not say whether money left, by reason',
      labelNames: ['reason'],
      registers: [registry],
    });
    for (const reason of REVIEW_REASONS) this.reviews.inc({ reason }, 0);
    new Gauge({
      name: 'sluice_payments_sagas_needing_review',
      help: 'Sagas waiting for a person (state needs_review): their holds stay until resolved',
      registers: [registry],
      async collect() {
        this.set(await store.countNeedingReview().catch(() => 0));
      },
    });
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const self = this;
    new Gauge({
      name: 'sluice_payments_steps_in_flight',
      help: 'Saga steps running now (each holds a lease)',
      registers: [registry],
      collect() {
        this.set(self.inFlight.size);
      },
    });
  }

  start(): void {
    this.loop = this.run();
  }

  /** Something became due (a new withdrawal, a webhook): look now instead of at the next poll. */
  poke(): void {
    this.options.poll.wake();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.options.poll.wake();
    await this.loop;
    await Promise.allSettled([...this.inFlight]);
  }

  /** Records a decision (of a step, or reached outside one: a webhook) in the metrics and, when it needs a person, the log. */
  observe(decision: Decision, requestedAt: Date, withdrawalId: string): void {
    this.steps.inc({ action: decision.action });
    const reason = decision.patch.reviewReason;
    if (decision.action === 'needs_review' && reason) {
      this.reviews.inc({ reason });
      this.logger.error(
        { withdrawalId, reason, what: decision.patch.lastError },
        'saga needs review: the provider did not say whether the payout was made; its hold stays',
      );
    }
    if (decision.action === 'completed' || decision.action === 'failed') {
      this.duration.observe({ outcome: decision.action }, (Date.now() - requestedAt.getTime()) / 1000);
    }
  }

  private async run(): Promise<void> {
    let parkedSeen = true;
    const { poll } = this.options;
    while (!this.stopped) {
      // Until the next item falls due; while the circuit is not closed, every poll (it changes state with time).
      let dueInMs = 0;
      try {
        await this.reconfirm();
        const state = this.gateway.breaker.state;
        if (state === 'open') {
          const parked = await this.store.parkDue();
          if (parked > 0) this.logger.warn({ parked }, 'provider circuit open: sagas parked');
          parkedSeen = true;
        } else {
          if (state === 'closed' && parkedSeen) {
            const resumed = await this.store.unparkAll();
            if (resumed > 0) this.logger.info({ resumed }, 'provider circuit closed: parked sagas resumed');
            parkedSeen = false;
          }
          const room =
            state === 'half_open'
              ? this.gateway.breaker.allows()
                ? 1
                : 0
              : // A step holds at most one bulkhead slot at a time: as many steps as the bulkhead's limit keep it busy.
                this.gateway.bulkhead.limit - this.inFlight.size;
          const claimed = await this.store.claim(room, this.options.leaseMs, state === 'half_open');
          for (const saga of claimed) this.track(this.step(saga));
          if (claimed.length > 0) poll.worked();
          if (claimed.length > 0 && claimed.length === room) continue; // more may be due
          // A step ending wakes the loop; otherwise the next saga's due time (or a lease running out) ends the wait.
          if (state === 'closed' && claimed.length === 0) dueInMs = await this.store.msUntilNextDue();
        }
      } catch (err) {
        this.logger.error({ err }, 'saga loop failed; trying again');
      }
      await poll.idle(dueInMs);
    }
  }

  /** Now and then: finished sagas the wallet has not confirmed get their finishing command again. */
  private async reconfirm(): Promise<void> {
    if (Date.now() < this.nextReconfirmCheck) return;
    this.nextReconfirmCheck = Date.now() + Math.min(5_000, this.options.timings.reconfirmMs);
    const resent = await this.store.resendUnconfirmed(this.options.timings.reconfirmMs, 100);
    if (resent.length === 0) return;
    this.resent.inc(resent.length);
    this.logger.warn(
      { withdrawals: resent.slice(0, 10), count: resent.length },
      'wallet has not confirmed finished sagas; commands sent again',
    );
    this.onCommands();
  }

  private track(p: Promise<void>): void {
    this.inFlight.add(p);
    void p.finally(() => {
      this.inFlight.delete(p);
      this.options.poll.wake();
    });
  }

  /** A step runs in its withdrawal's trace: its log lines, and the commands it decides, join it. */
  private step(saga: ClaimedSaga): Promise<void> {
    return inSagaTrace(
      this.tracer,
      `payout ${nextStep(saga)}`,
      saga.traceparent,
      { 'sluice.withdrawal_id': saga.withdrawalId, 'sluice.saga_state': saga.state, 'sluice.attempts': saga.attempts },
      () => this.runStep(saga),
    );
  }

  private async runStep(saga: ClaimedSaga): Promise<void> {
    try {
      const outcome = await this.execute(saga);
      const decision = await withTransaction(this.pool, async (client) => {
        // Decide on the saga as it is now: a webhook may have moved it while the call was out.
        const current = await this.store.lock(client, saga.withdrawalId);
        if (!current) return undefined;
        const d = decide(current, outcome, { ...this.options.timings, now: Date.now() });
        await this.store.apply(client, saga.withdrawalId, d, saga.leaseToken);
        return { d, requestedAt: current.requestedAt };
      });
      if (!decision) return;
      this.observe(decision.d, decision.requestedAt, saga.withdrawalId);
      if (decision.d.commands.length > 0) this.onCommands();
      if (decision.d.action === 'retry_later') {
        this.logger.warn(
          { withdrawalId: saga.withdrawalId, error: decision.d.patch.lastError },
          'no answer from the provider; will look again',
        );
      }
    } catch (err) {
      this.logger.error(
        { err, withdrawalId: saga.withdrawalId },
        'saga step failed; its lease will run out and it is tried again',
      );
      await this.store.release(saga.withdrawalId, saga.leaseToken).catch(() => undefined);
    }
  }

  /** Sends the payout, or first looks it up when an earlier step may have reached the provider. */
  private async execute(saga: ClaimedSaga): Promise<Outcome> {
    if (nextStep(saga) === 'look_up') {
      const looked = await this.gateway.lookUp(saga.withdrawalId);
      if ('outcome' in looked) return looked.outcome;
      if (looked.found) return { kind: 'payout', payout: looked.found, source: 'look_up' };
      // Nothing reached the provider: send it now (same key, so a late first try still pays once);
      // unless a payout may exist that the provider does not show.
      if (afterNotFound(saga) === 'review') return { kind: 'not_found' };
    }
    return this.gateway.sendPayout(saga.idempotencyKey, {
      reference: saga.withdrawalId,
      amount: saga.amount,
      currency: saga.currency,
    });
  }
}
