import type { PoolClient } from 'pg';
import { UUID_PATTERN } from '@sluice/core';
import { deferUntilCommit } from '@sluice/db';
import type { AvroEventCodec } from '@sluice/messaging';

export type OutboxMode = 'wal' | 'polling';

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
 * In WAL mode the rows are deleted again in the same transaction (the WAL
 * keeps the inserts for the relay, the table stays empty), as Debezium's
 * outbox pattern does.
 */
export class OutboxWriter {
  constructor(
    private readonly codec: AvroEventCodec,
    private readonly mode: OutboxMode = 'wal',
  ) {}

  /** Insert and (WAL mode) delete as statements of their own: two round trips. */
  async append(client: PoolClient, events: readonly OutboxEvent[]): Promise<void> {
    if (events.length === 0) return;
    const params: unknown[] = [];
    const rows = this.rows(events, (v) => `$${params.push(v)}`);
    await client.query(`INSERT INTO outbox ${COLUMNS} VALUES ${rows.join(', ')}`, params);
    if (this.mode === 'wal') {
      await client.query('DELETE FROM outbox WHERE id = ANY($1::uuid[])', [events.map((e) => e.event.data.eventId)]);
    }
  }

  /**
   * The insert as a data-modifying CTE body for the caller's own statement
   * (`WITH …, o AS (<this>) SELECT …`), with its values bound through `param`;
   * it inserts only when `onlyIf` (an SQL condition) holds. Then call
   * deleteWithCommit in the same transaction. Together: no round trip of
   * their own.
   */
  insertStatement(events: readonly OutboxEvent[], param: (value: unknown) => string, onlyIf = 'true'): string {
    const rows = this.rows(events, param, true);
    return `INSERT INTO outbox ${COLUMNS} SELECT * FROM (VALUES ${rows.join(', ')}) AS v WHERE ${onlyIf}`;
  }

  /**
   * WAL mode: deletes the events' rows in the COMMIT's round trip (withTransaction's
   * deferUntilCommit). The ids are inlined as literals, so each must be a UUID.
   */
  deleteWithCommit(client: PoolClient, events: readonly OutboxEvent[]): void {
    if (this.mode !== 'wal' || events.length === 0) return;
    const ids = events.map((e) => {
      const id = e.event.data.eventId;
      if (!UUID_PATTERN.test(id)) throw new Error(`outbox event id ${JSON.stringify(id)} is not a UUID`);
      return `'${id}'`;
    });
    deferUntilCommit(client, `DELETE FROM outbox WHERE id IN (${ids.join(', ')})`);
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
