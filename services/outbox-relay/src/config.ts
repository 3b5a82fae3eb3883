import { commonEnv, env, outboxEnv, z } from '@sluice/config';

export const relayConfig = z
  .object({
    ...commonEnv,
    PORT: env.port(3010),
    ...outboxEnv,
    /** Outbox columns copied into Kafka headers when present (Debezium's additional placement). */
    RELAY_HEADER_COLUMNS: env.list('traceparent'),
    RELAY_MAX_RECORDS_IN_FLIGHT: env.int(20_000, 1),
    RELAY_MAX_BYTES_IN_FLIGHT: env.int(32 * 1024 * 1024, 1024),
    RELAY_MAX_BATCH_RECORDS: env.int(2_000, 1),
    RELAY_STATUS_INTERVAL_MS: env.int(1_000, 50),
    RELAY_RETAINED_WAL_WARN_BYTES: env.int(1024 * 1024 * 1024, 0),
    RELAY_RECONNECT_INITIAL_MS: env.int(200, 10),
    RELAY_RECONNECT_MAX_MS: env.int(2_000, 10),
    /** Liveness fails when the session has made no progress for this long. */
    RELAY_STALL_MS: env.int(60_000, 1_000),
  })
  .refine((c) => c.RELAY_MAX_BATCH_RECORDS <= c.RELAY_MAX_RECORDS_IN_FLIGHT, {
    message: 'RELAY_MAX_BATCH_RECORDS must not exceed RELAY_MAX_RECORDS_IN_FLIGHT',
  })
  .refine((c) => c.RELAY_RECONNECT_INITIAL_MS <= c.RELAY_RECONNECT_MAX_MS, {
    message: 'RELAY_RECONNECT_INITIAL_MS must not exceed RELAY_RECONNECT_MAX_MS',
  })
  .refine((c) => c.RELAY_STATUS_INTERVAL_MS * 5 < c.RELAY_STALL_MS, {
    message: 'RELAY_STALL_MS must be well above RELAY_STATUS_INTERVAL_MS',
  });

export type RelayConfig = z.infer<typeof relayConfig>;
