import type { Consumer, EachBatchPayload, Kafka } from 'kafkajs';
import { Counter, type Registry } from 'prom-client';
import type { Pool } from 'pg';
import { errorMessage } from '@sluice/core';
import { withTransaction } from '@sluice/db';
import type { AvroEventCodec } from '@sluice/messaging';
import type { Logger } from '@sluice/observability';
import type { WalletEvent } from '@sluice/schemas';
import { idempotencyKeyOf } from '../saga/saga';
import type { NewSaga, SagaStore } from '../saga/saga-store';

export interface WalletEventsOptions {
  topic: string;
  groupId: string;
  fromBeginning: boolean;
  provider: string;
}

/** The wallet's view of a withdrawal each event shows. */
const WALLET_STATE: Partial<Record<WalletEvent['type'], string>> = {
  WithdrawalSubmitted: 'submitted',
  WithdrawalCompleted: 'completed',
  WithdrawalCompensated: 'compensated',
};

/**
 * Reads the wallet events: each WithdrawalRequested starts a saga, later
 * withdrawal events record what the wallet has confirmed. A batch is one
 * transaction, committed to Kafka after it: a redelivered batch inserts
 * nothing new (the saga's key is the withdrawal id) and moves no
 * confirmation backwards, so the consumer is idempotent.
 */
export class WalletEventsConsumer {
  private consumer: Consumer | undefined;
  private readonly events: Counter<'type'>;

  constructor(
    private readonly kafka: Kafka,
    private readonly pool: Pool,
    private readonly codec: AvroEventCodec,
    private readonly store: SagaStore,
    private readonly options: WalletEventsOptions,
    private readonly logger: Logger,
    registry: Registry,
    private readonly onNewSagas: () => void,
  ) {
    this.events = new Counter({
      name: 'sluice_payments_wallet_events_total',
      help: 'Wallet events read, by type (undecodable ones included)',
      labelNames: ['type'],
      registers: [registry],
    });
  }

  async start(): Promise<void> {
    const consumer = this.kafka.consumer({ groupId: this.options.groupId, allowAutoTopicCreation: false });
    this.consumer = consumer;
    await consumer.connect();
    await consumer.subscribe({ topic: this.options.topic, fromBeginning: this.options.fromBeginning });
    await consumer.run({ partitionsConsumedConcurrently: 4, eachBatchAutoResolve: false, eachBatch: (b) => this.batch(b) });
  }

  async stop(): Promise<void> {
    await this.consumer?.disconnect();
  }

  private async batch(payload: EachBatchPayload): Promise<void> {
    const { batch } = payload;
    if (!payload.isRunning() || batch.messages.length === 0) return;
    const sagas: NewSaga[] = [];
    const confirmations = new Map<string, string>();
    for (const message of batch.messages) {
      if (!message.value) continue;
      let event: WalletEvent;
      try {
        const decoded = await this.codec.decode(message.value);
        event = { type: decoded.type, data: decoded.data } as WalletEvent;
      } catch (err) {
        // Not a withdrawal this worker can act on; the projector's dead letters hold the undecodable ones.
        this.events.inc({ type: 'undecodable' });
        this.logger.warn({ err: errorMessage(err), offset: message.offset, partition: batch.partition }, 'wallet event skipped');
        continue;
      }
      this.events.inc({ type: event.type });
      if (event.type === 'WithdrawalRequested') {
        const d = event.data;
        sagas.push({
          withdrawalId: d.withdrawalId,
          walletId: d.walletId,
          amount: d.amount,
          currency: d.currency,
          requestedAt: new Date(d.occurredAt),
          idempotencyKey: idempotencyKeyOf(d.withdrawalId),
          provider: this.options.provider,
        });
      } else {
        const state = WALLET_STATE[event.type];
        if (state && 'withdrawalId' in event.data) confirmations.set(event.data.withdrawalId, state);
      }
    }
    let inserted = 0;
    await withTransaction(this.pool, async (client) => {
      inserted = await this.store.insert(client, sagas);
      await this.store.confirm(client, confirmations);
    });
    payload.resolveOffset(batch.messages[batch.messages.length - 1]!.offset);
    await payload.commitOffsetsIfNecessary();
    await payload.heartbeat();
    if (inserted > 0) this.onNewSagas();
  }
}
