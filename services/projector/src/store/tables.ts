import { sql } from 'drizzle-orm';
import {
  bigint,
  bigserial,
  customType,
  doublePrecision,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uniqueIndex,
  varchar,
} from 'drizzle-orm/pg-core';

const bytea = customType<{ data: Buffer; driverData: Buffer }>({ dataType: () => 'bytea' });

/**
 * One row per projection: which version readers see. The engine reads it in
 * every batch under a shared advisory lock on the projection; a switch takes
 * that lock exclusively, so no batch straddles a switch.
 */
export const projections = pgTable('projections', {
  name: varchar('name', { length: 64 }).primaryKey(),
  liveVersion: integer('live_version'),
  updatedAt: timestamp('updated_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
});

/**
 * Every version of every projection: its schema (proj_<name>_v<n>, or a side
 * schema for a replay), its state and, while it builds, its progress.
 * building → live → retired; a retired version can be caught up and made
 * live again (rollback); replay versions never go live.
 */
export const projectionVersions = pgTable(
  'projection_versions',
  {
    projection: varchar('projection', { length: 64 }).notNull(),
    version: integer('version').notNull(),
    schemaName: varchar('schema_name', { length: 63 }).notNull(),
    /** building | live | retired | replay | abandoned */
    state: varchar('state', { length: 16 }).notNull(),
    /** earliest | timestamp | adopted | range | snapshot */
    origin: varchar('origin', { length: 16 }).notNull(),
    /** For origin timestamp or range: where it started. */
    startedFrom: timestamp('started_from', { withTimezone: true, mode: 'date' }),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
    liveAt: timestamp('live_at', { withTimezone: true, mode: 'date' }),
    retiredAt: timestamp('retired_at', { withTimezone: true, mode: 'date' }),
    progressApplied: bigint('progress_applied', { mode: 'number' }).notNull().default(0),
    progressTotal: bigint('progress_total', { mode: 'number' }).notNull().default(0),
    progressRate: doublePrecision('progress_rate').notNull().default(0),
    progressAt: timestamp('progress_at', { withTimezone: true, mode: 'date' }),
  },
  (t) => [
    primaryKey({ columns: [t.projection, t.version] }),
    uniqueIndex('projection_versions_schema_name_idx').on(t.schemaName),
  ],
);

/**
 * Where each projection version stands on each partition, written in the same
 * transaction as the read-model rows it covers: the read model and its
 * position never disagree, whatever Kafka's committed offsets say. Keyed by
 * the version rather than the consumer group, so a rebuild's consumer group
 * and the live one hand a version over without moving a row.
 */
export const projectionCheckpoints = pgTable(
  'projection_checkpoints',
  {
    projection: varchar('projection', { length: 64 }).notNull(),
    version: integer('version').notNull(),
    topic: varchar('topic', { length: 249 }).notNull(),
    partition: integer('partition').notNull(),
    /** The offset of the next record to apply (Kafka's committed-offset convention). */
    nextOffset: bigint('next_offset', { mode: 'bigint' }).notNull(),
    /** Where this version started on the partition (progress is measured from here). */
    startOffset: bigint('start_offset', { mode: 'bigint' })
      .notNull()
      .default(sql`0`),
    /** A bounded replay stops here (exclusive); null for versions that follow the stream. */
    endOffset: bigint('end_offset', { mode: 'bigint' }),
    /** Records behind the high watermark as of the last batch. */
    lagRecords: bigint('lag_records', { mode: 'number' }).notNull().default(0),
    /** Broker timestamp of the last record applied. */
    lastRecordAt: timestamp('last_record_at', { withTimezone: true, mode: 'date' }),
    updatedAt: timestamp('updated_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.projection, t.version, t.topic, t.partition] })],
);

/**
 * Parked records, per projection version. `dead`: it failed for good (after
 * bounded retries, or at once when the projection rejected it) and went to
 * the dead-letter topic. `held`: a later record of a key with a dead one,
 * kept back so the key's order survives. `resolved`: re-driven or skipped.
 * Rows are written in the batch's transaction, so parking is exactly-once
 * like everything else; the raw record is kept for the re-drive.
 */
export const parkedRecords = pgTable(
  'projection_parked',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    projection: varchar('projection', { length: 64 }).notNull(),
    version: integer('version').notNull(),
    consumerGroup: varchar('consumer_group', { length: 255 }).notNull(),
    topic: varchar('topic', { length: 249 }).notNull(),
    partition: integer('partition').notNull(),
    offset: bigint('offset', { mode: 'bigint' }).notNull(),
    key: text('key'),
    eventType: varchar('event_type', { length: 128 }),
    aggregateVersion: integer('aggregate_version'),
    value: bytea('value'),
    /** Header name → values, base64. */
    headers: jsonb('headers').notNull().default({}),
    recordTimestamp: timestamp('record_timestamp', { withTimezone: true, mode: 'date' }),
    /** dead | held | resolved */
    state: varchar('state', { length: 16 }).notNull(),
    errorCode: varchar('error_code', { length: 64 }).notNull(),
    errorReason: text('error_reason').notNull(),
    attempts: integer('attempts').notNull().default(0),
    firstFailedAt: timestamp('first_failed_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
    lastFailedAt: timestamp('last_failed_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
    resolvedAt: timestamp('resolved_at', { withTimezone: true, mode: 'date' }),
    /** redriven | skipped | duplicate */
    resolution: varchar('resolution', { length: 16 }),
  },
  (t) => [
    uniqueIndex('projection_parked_record_idx').on(t.projection, t.version, t.topic, t.partition, t.offset),
    index('projection_parked_open_key_idx')
      .on(t.projection, t.version, t.key)
      .where(sql`state <> 'resolved'`),
    // The retention purge's scan of resolved records (services/projector/src/lifecycle.ts).
    index('projection_parked_resolved_idx')
      .on(t.resolvedAt)
      .where(sql`state = 'resolved'`),
  ],
);
