import { SluiceError } from '@sluice/core';
import { binaryToEpochMs, binaryToString } from './pgoutput/binary-values';
import type { OutboxRecord } from '../publish/outbox-record';
import type { PgOutputMessage, RelationColumn, TupleValue } from './pgoutput/messages';

export class OutboxRowError extends SluiceError<'outbox_row_invalid'> {}

interface Relation {
  schema: string;
  name: string;
  columns: RelationColumn[];
  index: Map<string, number>;
}

/**
 * Turns pgoutput inserts into outbox records. Relation messages describe a
 * table's columns before its first row in a session (and after DDL), so the
 * mapping follows the table's current shape.
 */
export class OutboxRowMapper {
  private readonly relations = new Map<number, Relation>();

  constructor(
    private readonly table: { schema: string; name: string },
    private readonly headerColumns: readonly string[] = ['traceparent'],
  ) {}

  onRelation(msg: Extract<PgOutputMessage, { tag: 'relation' }>): void {
    const index = new Map(msg.columns.map((c, i) => [c.name, i]));
    this.relations.set(msg.relationId, { schema: msg.schema, name: msg.name, columns: msg.columns, index });
    if (this.isOutbox(msg.schema, msg.name)) {
      for (const required of ['id', 'aggregatetype', 'aggregateid', 'type', 'payload']) {
        if (!index.has(required)) {
          throw new OutboxRowError('outbox_row_invalid', `outbox table ${msg.schema}.${msg.name} has no column "${required}"`);
        }
      }
    }
  }

  /** The record for an insert into the outbox table; undefined for any other table. */
  map(msg: Extract<PgOutputMessage, { tag: 'insert' }>, committedAtMs: number): OutboxRecord | undefined {
    const rel = this.relations.get(msg.relationId);
    if (!rel) throw new OutboxRowError('outbox_row_invalid', `insert for relation ${msg.relationId} before its Relation message`);
    if (!this.isOutbox(rel.schema, rel.name)) return undefined;
    const str = (col: string): string => {
      const { value, typeOid } = this.column(rel, msg.tuple, col);
      if (value === undefined) throw new OutboxRowError('outbox_row_invalid', `outbox row has null ${col}`);
      return binaryToString(typeOid, value);
    };
    const payloadCol = this.column(rel, msg.tuple, 'payload');
    if (payloadCol.value === undefined) throw new OutboxRowError('outbox_row_invalid', 'outbox row has a null payload');
    const ts = rel.index.has('timestamp') ? this.column(rel, msg.tuple, 'timestamp') : undefined;
    const headers: Record<string, string> = {};
    for (const col of this.headerColumns) {
      if (!rel.index.has(col)) continue;
      const { value, typeOid } = this.column(rel, msg.tuple, col);
      if (value !== undefined) headers[col] = binaryToString(typeOid, value);
    }
    return {
      id: str('id'),
      aggregateType: str('aggregatetype'),
      aggregateId: str('aggregateid'),
      type: str('type'),
      // Copied: the frame's buffer is reused once this frame is handled, the record waits for Kafka.
      payload: Buffer.from(payloadCol.value),
      timestampMs: ts?.value === undefined ? undefined : binaryToEpochMs(ts.typeOid, ts.value),
      headers,
      committedAtMs,
    };
  }

  private isOutbox(schema: string, name: string): boolean {
    return schema === this.table.schema && name === this.table.name;
  }

  private column(rel: Relation, tuple: TupleValue[], name: string): { value: Buffer | undefined; typeOid: number } {
    const i = rel.index.get(name);
    if (i === undefined) throw new OutboxRowError('outbox_row_invalid', `outbox table has no column "${name}"`);
    const v = tuple[i];
    if (v === 'unchanged') throw new OutboxRowError('outbox_row_invalid', `column ${name} arrived as an unchanged TOAST value`);
    return { value: v ?? undefined, typeOid: rel.columns[i]!.typeOid };
  }
}
