import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export type RelayMetrics = ReturnType<typeof createRelayMetrics>;

export function createRelayMetrics(registry: Registry) {
  const registers = [registry];
  return {
    events: new Counter({
      name: 'sluice_relay_events_total',
      help: 'Outbox events acknowledged by Kafka',
      labelNames: ['topic'],
      registers,
    }),
    batchSize: new Histogram({
      name: 'sluice_relay_batch_records',
      help: 'Records per Kafka produce batch',
      buckets: [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000],
      registers,
    }),
    batchSeconds: new Histogram({
      name: 'sluice_relay_batch_seconds',
      help: 'Time for Kafka to acknowledge one produce batch',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5],
      registers,
    }),
    commitToAck: new Histogram({
      name: 'sluice_relay_commit_to_ack_seconds',
      help: 'From the PostgreSQL commit of an event to its acknowledgement by Kafka',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.02, 0.03, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    }),
    checkpointSaves: new Counter({
      name: 'sluice_relay_checkpoint_saves_total',
      help: 'Relay checkpoints written to PostgreSQL (once a batch of records is acknowledged, each status tick, on stop)',
      registers,
    }),
    sendRetries: new Counter({
      name: 'sluice_relay_send_retries_total',
      help: 'Sends retried after the leaders were looked up again (platformatic client: a leader died or moved)',
      registers,
    }),
    producersReplaced: new Counter({
      name: 'sluice_relay_producers_replaced_total',
      help: 'Kafka producers replaced by a new producer id after a failed send (kafkajs client)',
      registers,
    }),
    recordsInFlight: new Gauge({
      name: 'sluice_relay_records_in_flight',
      help: 'Records read from the WAL and not yet acknowledged by Kafka',
      registers,
    }),
    bytesInFlight: new Gauge({
      name: 'sluice_relay_bytes_in_flight',
      help: 'Payload bytes read from the WAL and not yet acknowledged by Kafka',
      registers,
    }),
    recordsLimit: new Gauge({
      name: 'sluice_relay_records_in_flight_limit',
      help: 'Cap on records in flight before the relay stops reading the WAL',
      registers,
    }),
    bytesLimit: new Gauge({
      name: 'sluice_relay_bytes_in_flight_limit',
      help: 'Cap on bytes in flight before the relay stops reading the WAL',
      registers,
    }),
    paused: new Gauge({
      name: 'sluice_relay_wal_reading_paused',
      help: '1 while backpressure has stopped reading the WAL',
      registers,
    }),
    lagBytes: new Gauge({
      name: 'sluice_relay_lag_bytes',
      help: 'WAL received but not yet confirmed to PostgreSQL (bytes)',
      registers,
    }),
    lagSeconds: new Gauge({
      name: 'sluice_relay_lag_seconds',
      help: 'Age of the oldest committed event not yet acknowledged by Kafka',
      registers,
    }),
    retainedWal: new Gauge({
      name: 'sluice_relay_retained_wal_bytes',
      help: 'WAL PostgreSQL keeps for the relay slot',
      registers,
    }),
    confirmedLsn: new Gauge({
      name: 'sluice_relay_confirmed_lsn',
      help: 'The last WAL position confirmed to PostgreSQL (as a number)',
      registers,
    }),
    reconnects: new Counter({
      name: 'sluice_relay_reconnects_total',
      help: 'Replication sessions restarted after an error',
      labelNames: ['reason'],
      registers,
    }),
    state: new Gauge({ name: 'sluice_relay_state', help: '1 for the state the relay is in', labelNames: ['state'], registers }),
    leader: new Gauge({
      name: 'sluice_relay_leader',
      help: '1 while this relay leads (holds the slot), 0 as a standby',
      registers,
    }),
    leaderLost: new Counter({
      name: 'sluice_relay_leader_lost_total',
      help: 'Times the leader lost its lock and stopped publishing, by reason',
      labelNames: ['reason'],
      registers,
    }),
    skipped: new Counter({
      name: 'sluice_relay_skipped_records_total',
      help: 'Records re-read after a restart that the checkpoint showed Kafka already had',
      registers,
    }),
    slotRecoveries: new Counter({
      name: 'sluice_relay_slot_recoveries_total',
      help: 'Replication slots found lost (missing, invalidated, or recreated ahead of the checkpoint) and recovered by republishing the retained outbox',
      labelNames: ['reason'],
      registers,
    }),
    republished: new Counter({
      name: 'sluice_relay_republished_records_total',
      help: 'Retained outbox rows republished to Kafka while recovering a lost slot',
      registers,
    }),
    pruned: new Counter({
      name: 'sluice_relay_outbox_pruned_total',
      help: 'Outbox rows deleted behind the confirmed WAL position (their publication acknowledged)',
      registers,
    }),
    retainedRows: new Gauge({
      name: 'sluice_relay_outbox_retained_rows',
      help: 'Rows in the outbox table not yet pruned (counted up to 100,000)',
      registers,
    }),
    oldestRetainedSeconds: new Gauge({
      name: 'sluice_relay_outbox_oldest_retained_seconds',
      help: 'Age of the oldest row in the outbox table (0 when empty)',
      registers,
    }),
    heartbeats: new Counter({ name: 'sluice_relay_heartbeats_total', help: 'Heartbeat messages written to the WAL', registers }),
    pollingBacklog: new Gauge({
      name: 'sluice_relay_polling_backlog',
      help: 'Rows waiting in the outbox table (polling mode)',
      registers,
    }),
    info: new Gauge({
      name: 'sluice_relay_info',
      help: 'Always 1; the labels say how this relay runs (mode, Kafka client)',
      labelNames: ['mode', 'kafka_client'],
      registers,
    }),
  };
}
