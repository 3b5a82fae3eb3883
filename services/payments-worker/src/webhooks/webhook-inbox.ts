import { Counter, Gauge, type Registry } from 'prom-client';
import type { Pool } from 'pg';
import { z } from '@sluice/config';
import { withTransaction } from '@sluice/db';
import type { Logger, Tracer } from '@sluice/observability';
import { decide, type Decision, type SagaTimings } from '../saga/saga';
import { lockInOrder, type SagaStore } from '../saga/saga-store';
import type { PollWait } from '../poll-wait';
import { inSagaTrace } from '../saga/saga-trace';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A provider webhook as it arrives; what else it carries is kept in the inbox but not read. */
export const WebhookEvent = z.object({
  id: z.string().min(1).max(255),
  type: z.string().min(1).max(64),
  data: z.object({
    payoutId: z.string().min(1).max(255),
    reference: z.string().min(1).max(255),
    status: z.enum(['pending', 'paid', 'failed']),
    failureCode: z.string().max(64).nullable().optional(),
  }),
});
export type WebhookEvent = z.infer<typeof WebhookEvent>;

/**
 * The webhook inbox: receive() stores a verified delivery once per provider
 * event id and returns at once; the processor applies stored events to their
 * sagas, each in one transaction with the saga's decision and its commands,
 * marking the row processed. Duplicates never reach the processor; events
 * out of order are harmless because the saga never leaves a final state.
 */
export class WebhookInbox {
  private stopped = false;
  private loop: Promise<void> | undefined;
  private readonly received: Counter<'result'>;
  private readonly processed: Counter<'outcome'>;
  private readonly conflicts: Counter<'saga_state' | 'reported'>;

  constructor(
    private readonly pool: Pool,
    private readonly store: SagaStore,
    private readonly timings: Omit<SagaTimings, 'now'>,
    private readonly poll: PollWait,
    private readonly logger: Logger,
    registry: Registry,
    private readonly onDecision: (decision: Decision, requestedAt: Date, withdrawalId: string) => void,
    /** Each applied webhook a span of its withdrawal's trace (when recorded); unset, none. */
    private readonly tracer?: Tracer,
  ) {
    this.conflicts = new Counter({
      name: 'sluice_payments_webhook_conflicts_total',
      help: 'Final webhooks contradicting a finished saga (paid after failed, failed after paid), recorded for review',
      labelNames: ['saga_state', 'reported'],
      registers: [registry],
    });
    this.received = new Counter({
      name: 'sluice_payments_webhooks_received_total',
      help: 'Webhook deliveries by result (accepted, duplicate, bad_signature, stale, malformed, unavailable)',
      labelNames: ['result'],
      registers: [registry],
    });
    this.processed = new Counter({
      name: 'sluice_payments_webhooks_processed_total',
      help: 'Stored webhooks applied, by outcome (applied, ignored, conflict, under_review, unknown_reference)',
      labelNames: ['outcome'],
      registers: [registry],
    });
    const p = pool;
    new Gauge({
      name: 'sluice_payments_webhooks_unprocessed',
      help: 'Webhooks stored but not yet applied',
      registers: [registry],
      async collect() {
        const { rows } = await p
          .query<{ n: string }>('SELECT count(*)::text AS n FROM psp_webhook_inbox WHERE processed_at IS NULL')
          .catch(() => ({ rows: [] }));
        this.set(Number(rows[0]?.n ?? 0));
      },
    });
  }

  count(result: string): void {
    this.received.inc({ result });
  }

  /** Stores a verified event; false when its id was stored before. */
  async receive(event: WebhookEvent, body: unknown): Promise<boolean> {
    const { rowCount } = await this.pool.query(
      `INSERT INTO psp_webhook_inbox (event_id, type, reference, body) VALUES ($1, $2, $3, $4) ON CONFLICT (event_id) DO NOTHING`,
      [event.id, event.type, event.data.reference, JSON.stringify(body)],
    );
    const stored = rowCount === 1;
    this.received.inc({ result: stored ? 'accepted' : 'duplicate' });
    if (stored) this.poll.wake();
    return stored;
  }

  start(): void {
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.poll.wake();
    await this.loop;
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      try {
        if ((await this.processBatch()) > 0) {
          this.poll.worked();
          continue;
        }
      } catch (err) {
        this.logger.error({ err }, 'processing webhooks failed; trying again');
      }
      await this.poll.idle();
    }
  }

  /** Applies up to `limit` stored webhooks, oldest first; resolves with how many. */
  async processBatch(limit = 100): Promise<number> {
    const decisions: { d: Decision; requestedAt: Date; withdrawalId: string }[] = [];
    const conflicts: { withdrawalId: string; conflict: NonNullable<Decision['conflict']>; eventId: string }[] = [];
    const n = await withTransaction(this.pool, async (client) => {
      const { rows } = await client.query<{ event_id: string; body: unknown }>(
        `SELECT event_id, body FROM psp_webhook_inbox WHERE processed_at IS NULL
          ORDER BY received_at LIMIT $1 FOR UPDATE SKIP LOCKED`,
        [limit],
      );
      const events = rows.map((row) => ({ row, event: WebhookEvent.parse(row.body) }));
      const refs = events.map((e) => e.event.data.reference).filter((r) => UUID.test(r));
      await lockInOrder(client, refs);
      for (const { row, event } of events) {
        const saga = UUID.test(event.data.reference) ? await this.store.lock(client, event.data.reference) : undefined;
        let outcome = 'unknown_reference';
        if (saga) {
          const d = decide(
            saga,
            {
              kind: 'payout',
              payout: { payoutId: event.data.payoutId, status: event.data.status, failureCode: event.data.failureCode ?? null },
              source: 'webhook',
            },
            { ...this.timings, now: Date.now() },
          );
          // In the withdrawal's trace: the commands the webhook decides carry it on to the command API.
          await inSagaTrace(
            this.tracer,
            `webhook ${event.type}`,
            saga.traceparent,
            { 'sluice.withdrawal_id': saga.withdrawalId, 'sluice.webhook_status': event.data.status },
            () => this.store.apply(client, saga.withdrawalId, d),
          );
          decisions.push({ d, requestedAt: saga.requestedAt, withdrawalId: saga.withdrawalId });
          outcome = d.action === 'ignored' ? (saga.state === 'needs_review' ? 'under_review' : 'ignored') : 'applied';
          if (d.conflict) {
            outcome = 'conflict';
            if (await this.store.recordConflict(client, saga.withdrawalId, d.conflict, { kind: 'webhook', eventId: event.id })) {
              conflicts.push({ withdrawalId: saga.withdrawalId, conflict: d.conflict, eventId: event.id });
            }
          }
        } else {
          this.logger.warn(
            { eventId: event.id, reference: event.data.reference },
            'webhook for a payout this worker did not send',
          );
        }
        await client.query('UPDATE psp_webhook_inbox SET processed_at = now(), outcome = $2 WHERE event_id = $1', [
          row.event_id,
          outcome,
        ]);
        this.processed.inc({ outcome });
      }
      return rows.length;
    });
    for (const { d, requestedAt, withdrawalId } of decisions) this.onDecision(d, requestedAt, withdrawalId);
    for (const { withdrawalId, conflict, eventId } of conflicts) {
      this.conflicts.inc({ saga_state: conflict.sagaState, reported: conflict.reported });
      this.logger.error(
        { withdrawalId, sagaState: conflict.sagaState, reported: conflict.reported, payoutId: conflict.payoutId, eventId },
        'the provider reports a payout contradicting the saga’s end; recorded for review',
      );
    }
    return n;
  }
}
