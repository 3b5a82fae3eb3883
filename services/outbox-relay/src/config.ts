import { commonEnv, env, metricsEnv, metricsPortDiffers, outboxEnv, z } from '@sluice/config';
import { kafkaSecurityEnv } from '@sluice/messaging';

export const relayConfig = z
  .object({
    ...commonEnv,
    ...kafkaSecurityEnv,
    PORT: env.port(3010),
    ...metricsEnv,
    /** wal: stream the WAL (needs wal_level=logical); polling: read and delete the table's rows. */
    RELAY_MODE: z.enum(['wal', 'polling']).default('wal'),
    ...outboxEnv,
    /**
     * The Kafka client that produces the records. @platformatic/kafka by default: kafkajs's record
     * encoding was the relay's bottleneck (README, "Choices and why"); kafkajs stays selectable.
     */
    RELAY_KAFKA_CLIENT: z.enum(['platformatic', 'kafkajs']).default('platformatic'),
    /** Outbox columns copied into Kafka headers when present (Debezium's additional placement). */
    RELAY_HEADER_COLUMNS: env.list('traceparent'),
    /**
     * Stamp each record with the time the relay sent it (header sluice-published-ms), from which the
     * projector measures published → applied. Off, the relay's headers are exactly Debezium's.
     */
    RELAY_PUBLISHED_AT_HEADER: env.bool(true),
    RELAY_MAX_RECORDS_IN_FLIGHT: env.int(20_000, 1),
    RELAY_MAX_BYTES_IN_FLIGHT: env.int(32 * 1024 * 1024, 1024),
    RELAY_MAX_BATCH_RECORDS: env.int(2_000, 1),
    RELAY_STATUS_INTERVAL_MS: env.int(1_000, 50),
    /** pg_logical_emit_message every so often, so a quiet outbox in a busy database does not pin WAL; 0 = off. */
    RELAY_HEARTBEAT_INTERVAL_MS: env.int(10_000, 0),
    /** How often a standby tries for the leader lock: the takeover time after the leader dies. */
    RELAY_STANDBY_POLL_MS: env.int(1_000, 50),
    /**
     * TCP keepalive of the leader lock's connection, on both ends: PostgreSQL drops the session of a
     * leader cut off from it, and with it the lock, after about idle + interval × count seconds.
     */
    RELAY_LEADER_KEEPALIVE_IDLE_SEC: env.int(10, 1),
    RELAY_LEADER_KEEPALIVE_INTERVAL_SEC: env.int(5, 1),
    RELAY_LEADER_KEEPALIVE_COUNT: env.int(3, 1),
    /** How often the leader asks PostgreSQL whether it still holds the lock, and how long it waits for the answer. */
    RELAY_LEADER_CHECK_MS: env.int(2_000, 50),
    RELAY_LEADER_CHECK_TIMEOUT_MS: env.int(3_000, 50),
    /**
     * WAL mode: how often the relay deletes outbox rows whose publication it has confirmed, and
     * how many per statement (each batch its own short transaction). 0 = never (another relay's
     * slot on the same table prunes it). docs/relay-failover.md.
     */
    RELAY_PRUNE_INTERVAL_MS: env.int(1_000, 0),
    RELAY_PRUNE_BATCH: env.int(1_000, 1, 100_000),
    RELAY_POLL_INTERVAL_MS: env.int(100, 5),
    RELAY_POLL_BATCH: env.int(500, 1, 10_000),
    MIGRATE_ON_START: env.bool(true),
    RELAY_RETAINED_WAL_WARN_BYTES: env.int(1024 * 1024 * 1024, 0),
    RELAY_RECONNECT_INITIAL_MS: env.int(200, 10),
    RELAY_RECONNECT_MAX_MS: env.int(2_000, 10),
    /** Liveness fails when the session has made no progress for this long. */
    RELAY_STALL_MS: env.int(60_000, 1_000),
  })
  .refine(...metricsPortDiffers)
  .refine((c) => c.RELAY_MAX_BATCH_RECORDS <= c.RELAY_MAX_RECORDS_IN_FLIGHT, {
    message: 'RELAY_MAX_BATCH_RECORDS must not exceed RELAY_MAX_RECORDS_IN_FLIGHT',
  })
  .refine((c) => c.RELAY_RECONNECT_INITIAL_MS <= c.RELAY_RECONNECT_MAX_MS, {
    message: 'RELAY_RECONNECT_INITIAL_MS must not exceed RELAY_RECONNECT_MAX_MS',
  })
  .refine((c) => c.RELAY_STATUS_INTERVAL_MS * 5 < c.RELAY_STALL_MS, {
    message: 'RELAY_STALL_MS must be well above RELAY_STATUS_INTERVAL_MS',
  })
  // A cut-off leader must stop before PostgreSQL frees the lock for a standby, or both would publish.
  .refine(
    (c) =>
      c.RELAY_LEADER_CHECK_MS + c.RELAY_LEADER_CHECK_TIMEOUT_MS <
      (c.RELAY_LEADER_KEEPALIVE_IDLE_SEC + c.RELAY_LEADER_KEEPALIVE_INTERVAL_SEC * c.RELAY_LEADER_KEEPALIVE_COUNT) * 1000,
    {
      message:
        'RELAY_LEADER_CHECK_MS + RELAY_LEADER_CHECK_TIMEOUT_MS must be below the keepalive time ' +
        '(RELAY_LEADER_KEEPALIVE_IDLE_SEC + RELAY_LEADER_KEEPALIVE_INTERVAL_SEC × RELAY_LEADER_KEEPALIVE_COUNT seconds)',
    },
  );

export type RelayConfig = z.infer<typeof relayConfig>;
