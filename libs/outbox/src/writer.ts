import type { PoolClient } from 'pg';
import type { AvroEventCodec } from '@sluice/messaging';

export interface OutboxEvent {
  aggregateType: string;
  aggregateId: string;
  event: { type: string; data: { eventId: string } };
  traceparent?: string;
}

const COLUMNS = '(id, aggregatetype, aggregateid, type, payload, traceparent)';

/**
 * Appends events to the outbox inside the caller's transaction. Each payload is
 * encoded and checked against its registered schema here, at write time: an
 * event the schema rejects fails the command instead of poisoning the topic.
 *
 * The rows stay in the table in both relay modes: the polling relay deletes
 * what it published, the WAL relay prunes behind its confirmed position. The
 * Debezium way (insert and delete in one transaction, only the WAL keeps the
 * event) loses every event since the slot's last confirmed position when the
 * slot is lost (a failover, a dropped slot); kept rows let the relay
 * republish them (docs/relay-failover.md).
 */
export class OutboxWriter {
  constructor(private readonly codec: AvroEventCodec) {}

  /** The insert as a statement of its own: one round trip. */
  async append(client: PoolClient, events: readonly OutboxEvent[]): Promise<void> {
    if (events.length === 0) return;
    const params: unknown[] = [];
    const rows = this.rows(events, (v) => `$${params.push(v)}`);
    await client.query(`INSERT INTO outbox ${COLUMNS} VALUES ${rows.join(', ')}`, params);
  }

  /**
   * The insert as a data-modifying CTE body for the caller's own statement
   * (`WITH …, o AS (<this>) SELECT …`), with its values bound through `param`;
   * it inserts only when `onlyIf` (an SQL condition) holds: no round trip of
   * its own.
   */
  insertStatement(events: readonly OutboxEvent[], param: (value: unknown) => string, onlyIf = 'true'): string {
    const rows = this.rows(events, param, true);
    return `INSERT INTO outbox ${COLUMNS} SELECT * FROM (VALUES ${rows.join(', ')}) AS v WHERE ${onlyIf}`;
  }

  /** One VALUES row per event; typed when the row stands in a subquery (no target column to infer from). */
  private rows(events: readonly OutboxEvent[], param: (value: unknown) => string, typed = false): string[] {
    const t = (type: string) => (typed ? `::${type}` : '');
    return events.map((e) => {
      const payload = this.codec.encode(e.aggregateType, e.event);
      return `(${param(e.event.data.eventId)}${t('uuid')}, ${param(e.aggregateType)}${t('varchar')}, ${param(e.aggregateId)}${t('varchar')}, ${param(e.event.type)}${t('varchar')}, ${param(payload)}${t('bytea')}, ${param(e.traceparent ?? null)}${t('varchar')})`;
    });
  }
}
