import type { Kafka } from 'kafkajs';
import { Counter, type Registry } from 'prom-client';
import type { Pool } from 'pg';
import { withTransaction } from '@sluice/db';
import {
  bindConsumer,
  ConsumerMetrics,
  consumerPipeline,
  KafkaSubscriber,
  type AvroEventCodec,
  type BoundConsumer,
  type FetchSettings,
  type Handler,
  type Publisher,
  recordContext,
} from '@sluice/messaging';
import { formatTraceparent, trace, type Context, type Logger, type Tracer } from '@sluice/observability';
import type { WalletEvent } from '@sluice/schemas';
import { idempotencyKeyOf } from '../saga/saga';
import type { NewSaga, SagaStore } from '../saga/saga-store';

/** The wallet's view of a withdrawal each event shows. */
const WALLET_STATE: Partial<Record<WalletEvent['type'], string>> = {
  WithdrawalSubmitted: 'submitted',
  WithdrawalCompleted: 'completed',
  WithdrawalCompensated: 'compensated',
};

/** The events the worker acts on; the others are dropped by their type header, undecoded. */
export const PAYMENT_EVENT_TYPES: readonly WalletEvent['type'][] = [
  'WithdrawalRequested',
  'WithdrawalSubmitted',
  'WithdrawalCompleted',
  'WithdrawalCompensated',
];

/**
 * Each WithdrawalRequested starts a saga, later withdrawal events record
 * what the wallet has confirmed. A batch is one transaction: a redelivered
 * batch inserts nothing new (the saga's key is the withdrawal id) and moves
 * no confirmation backwards, so the handler is idempotent.
 */
export function walletEventsHandler(
  pool: Pool,
  store: SagaStore,
  provider: string,
  events: Counter<'type'>,
  onNewSagas: () => void,
  lookUpFirst: (requestedAt: Date) => boolean = () => false,
): Handler {
  return async (messages) => {
    const sagas: NewSaga[] = [];
    const confirmations = new Map<string, string>();
    for (const { event: decoded, record } of messages) {
      if (!decoded) continue;
      const event = { type: decoded.type, data: decoded.data } as WalletEvent;
      events.inc({ type: event.type });
      if (event.type === 'WithdrawalRequested') {
        const d = event.data;
        const requestedAt = new Date(d.occurredAt);
        sagas.push({
          withdrawalId: d.withdrawalId,
          walletId: d.walletId,
          amount: d.amount,
          currency: d.currency,
          requestedAt,
          idempotencyKey: idempotencyKeyOf(d.withdrawalId),
          provider,
          lookUpFirst: lookUpFirst(requestedAt),
          // The span that handled this event (traced(), the innermost middleware): the saga's steps continue it.
          traceparent: traceparentOf(recordContext(record)),
        });
      } else {
        const state = WALLET_STATE[event.type];
        if (state && 'withdrawalId' in event.data) confirmations.set(event.data.withdrawalId, state);
      }
    }
    const inserted = await withTransaction(pool, async (client) => {
      const n = await store.insert(client, sagas);
      await store.confirm(client, confirmations);
      return n;
    });
    if (inserted > 0) onNewSagas();
  };
}

function traceparentOf(ctx: Context | undefined): string | undefined {
  return ctx && formatTraceparent(trace.getSpanContext(ctx));
}

export interface WalletEventsOptions {
  topic: string;
  groupId: string;
  fromBeginning: boolean;
  provider: string;
  deadLetterTopic: string;
  fetch: Partial<FetchSettings>;
  /** Offsets committed at most this often (the handler is idempotent: a redelivered batch inserts nothing new). */
  commitIntervalMs?: number;
  retry: { maxAttempts: number; baseMs: number; maxMs: number };
}

export interface WalletEventsDeps {
  kafka: Kafka;
  pool: Pool;
  codec: AvroEventCodec;
  store: SagaStore;
  publisher: Publisher;
  logger: Logger;
  registry: Registry;
  /** A consumer span per event of a recorded trace; unset, none. */
  tracer?: Tracer;
  onNewSagas: () => void;
  /** Whether a withdrawal requested then is old enough to be looked up at the provider before it is sent. */
  lookUpFirst?: (requestedAt: Date) => boolean;
  /** The consumer has joined its group (each time it gets an assignment). */
  onAssigned?: () => void;
}

/**
 * The wallet events consumer on the runtime: withdrawal events only
 * (filtered by type before decoding), decoded, retried, and a record that
 * cannot be decoded parked on the dead-letter topic rather than skipped, so
 * no withdrawal is left neither paid nor released without a trace.
 */
export function walletEventsConsumer(deps: WalletEventsDeps, options: WalletEventsOptions): BoundConsumer {
  const events = new Counter({
    name: 'sluice_payments_wallet_events_total',
    help: 'Wallet events acted on, by type',
    labelNames: ['type'],
    registers: [deps.registry],
  });
  const metrics = ConsumerMetrics.for(deps.registry);
  const subscriber = new KafkaSubscriber({
    kafka: deps.kafka,
    groupId: options.groupId,
    topics: [options.topic],
    fromBeginning: options.fromBeginning,
    fetch: options.fetch,
    ...(options.commitIntervalMs !== undefined && { commitIntervalMs: options.commitIntervalMs }),
    logger: deps.logger,
    metrics,
  });
  const handler = consumerPipeline(
    walletEventsHandler(deps.pool, deps.store, options.provider, events, deps.onNewSagas, deps.lookUpFirst),
    {
      group: options.groupId,
      metrics,
      types: PAYMENT_EVENT_TYPES,
      codec: deps.codec,
      retry: options.retry,
      deadLetters: { publisher: deps.publisher, topic: options.deadLetterTopic },
      onParked: (record, code, reason) =>
        deps.logger.error(
          { topic: record.topic, partition: record.partition, offset: record.offset, code, reason },
          'wallet event dead-lettered',
        ),
      ...(deps.tracer && { tracer: deps.tracer }),
    },
  );
  return bindConsumer(subscriber, handler, { onAssigned: () => deps.onAssigned?.() });
}
