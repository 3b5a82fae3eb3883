import { sql } from 'drizzle-orm';
import { bigint, index, pgTable, uuid, varchar, customType, timestamp } from 'drizzle-orm/pg-core';

const bytea = customType<{ data: Buffer; driverData: Buffer }>({ dataType: () => 'bytea' });

/**
 * The outbox, with the column names Debezium's Outbox Event Router expects, so
 * Debezium and Sluice's relay can read the same table. Rows stay until the
 * relay has published them (in WAL mode it prunes them behind its confirmed
 * position, docs/relay-failover.md): a lost replication slot then loses no
 * event, the relay republishes what the table still holds.
 */
export const outbox = pgTable(
  'outbox',
  {
    /** The event id; the `id` header on the Kafka record. */
    id: uuid('id').primaryKey(),
    /** Routes to the topic (route.by.field). */
    aggregatetype: varchar('aggregatetype', { length: 255 }).notNull(),
    /** The Kafka record key. */
    aggregateid: varchar('aggregateid', { length: 255 }).notNull(),
    /** The event type; the `type` header. */
    type: varchar('type', { length: 255 }).notNull(),
    /** Confluent-framed Avro, encoded and schema-checked by the writer. */
    payload: bytea('payload').notNull(),
    timestamp: timestamp('timestamp', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
    /** W3C trace context of the request that wrote the event, when there was one. */
    traceparent: varchar('traceparent', { length: 55 }),
    /**
     * Insertion order, for the polling relay (databases without logical
     * replication). Writers take it after locking their aggregate's row, so a
     * key's events are numbered in their commit order. Debezium ignores it.
     */
    seq: bigint('seq', { mode: 'number' }).generatedAlwaysAsIdentity(),
    /**
     * The writing transaction's 64-bit id (pg_current_xact_id, as a bigint so
     * any reader of the table can map it). The WAL relay prunes a row once its
     * transaction is visible in a snapshot taken before a WAL position the relay
     * has confirmed: commit order, which neither seq nor id give.
     */
    xactId: bigint('xact_id', { mode: 'bigint' })
      .notNull()
      .default(sql`(pg_current_xact_id()::text)::bigint`),
  },
  (t) => [index('outbox_seq_idx').on(t.seq)],
);
