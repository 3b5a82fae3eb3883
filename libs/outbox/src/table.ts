import { bigint, index, pgTable, uuid, varchar, customType, timestamp } from 'drizzle-orm/pg-core';

const bytea = customType<{ data: Buffer; driverData: Buffer }>({ dataType: () => 'bytea' });

/**
 * The outbox, with the column names Debezium's Outbox Event Router expects, so
 * Debezium and Sluice's relay can read the same table. In WAL mode the writer
 * inserts and deletes each row in one transaction: the WAL keeps the insert,
 * the table stays empty.
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
  },
  (t) => [index('outbox_seq_idx').on(t.seq)],
);
