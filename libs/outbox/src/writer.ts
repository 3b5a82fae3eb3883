import type { PoolClient } from 'pg';
import type { AvroEventCodec } from '@sluice/messaging';

export type OutboxMode = 'wal' | 'polling';

export interface OutboxEvent {
  aggregateType: string;
  aggregateId: string;
  event: { type: string; data: { eventId: string } };
  traceparent?: string;
}

/**
 * Appends events to the outbox inside the caller's transaction. Each payload is
 * encoded and checked against its registered schema here, at write time: an
 * event the schema rejects fails the command instead of poisoning the topic.
 */
export class OutboxWriter {
  constructor(
    private readonly codec: AvroEventCodec,
    private readonly mode: OutboxMode = 'wal',
  ) {}

  async append(client: PoolClient, events: readonly OutboxEvent[]): Promise<void> {
    if (events.length === 0) return;
    const params: unknown[] = [];
    const rows: string[] = [];
    for (const e of events) {
      const payload = this.codec.encode(e.aggregateType, e.event);
      const n = params.push(e.event.data.eventId, e.aggregateType, e.aggregateId, e.event.type, payload, e.traceparent ?? null);
      rows.push(`($${n - 5}, $${n - 4}, $${n - 3}, $${n - 2}, $${n - 1}, $${n})`);
    }
    await client.query(
      `INSERT INTO outbox (id, aggregatetype, aggregateid, type, payload, traceparent) VALUES ${rows.join(', ')}`,
      params,
    );
    if (this.mode === 'wal') {
      await client.query('DELETE FROM outbox WHERE id = ANY($1::uuid[])', [events.map((e) => e.event.data.eventId)]);
    }
  }
}
