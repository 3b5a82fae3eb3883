import { join } from 'node:path';
import type { Kafka } from 'kafkajs';
import type { Pool } from 'pg';
import { applyMigrations, createPool, registerPoolMetrics } from '@sluice/db';
import { createIdempotentProducer, createKafka, kafkaSecurityFrom, type KafkaSecurity } from '@sluice/messaging';
import { Freshness, Health, type Logger, type Registry, type Tracer } from '@sluice/observability';
import { CheckpointStore } from './checkpoint/checkpoint-store';
import type { RelayConfig } from './config';
import { LeaderLock } from './leader';
import { createRelayMetrics, type RelayMetrics } from './metrics';
import { PollingSource } from './polling/polling-source';
import { createPlatformaticSink, KafkajsSink, type KafkaSink } from './publish/kafka-sink';
import { RecordPublisher } from './publish/publisher';
import { TopicRouter } from './publish/topic-router';
import { Relay } from './relay';
import type { OutboxSource } from './source';
import { WalSource } from './wal/wal-source';

export const RELAY_MIGRATIONS = { folder: join(__dirname, '../migrations'), table: '__migrations_outbox_relay' };

function createSource(
  config: RelayConfig,
  pool: Pool,
  publisher: RecordPublisher,
  metrics: RelayMetrics,
  logger: Logger,
): OutboxSource {
  if (config.RELAY_MODE === 'polling') {
    return new PollingSource(
      {
        table: config.OUTBOX_TABLE,
        headerColumns: config.RELAY_HEADER_COLUMNS,
        batchSize: config.RELAY_POLL_BATCH,
        pollIntervalMs: config.RELAY_POLL_INTERVAL_MS,
      },
      pool,
      publisher,
      metrics,
      logger,
    );
  }
  return new WalSource(
    {
      databaseUrl: config.DATABASE_URL,
      slot: config.OUTBOX_SLOT_NAME,
      publication: config.OUTBOX_PUBLICATION_NAME,
      table: config.OUTBOX_TABLE,
      headerColumns: config.RELAY_HEADER_COLUMNS,
      limits: {
        maxRecordsInFlight: config.RELAY_MAX_RECORDS_IN_FLIGHT,
        maxBytesInFlight: config.RELAY_MAX_BYTES_IN_FLIGHT,
        maxBatchRecords: config.RELAY_MAX_BATCH_RECORDS,
      },
      retainedWalWarnBytes: config.RELAY_RETAINED_WAL_WARN_BYTES,
      heartbeatIntervalMs: config.RELAY_HEARTBEAT_INTERVAL_MS,
      prune: { intervalMs: config.RELAY_PRUNE_INTERVAL_MS, batch: config.RELAY_PRUNE_BATCH },
    },
    pool,
    new CheckpointStore(pool, config.OUTBOX_SLOT_NAME),
    publisher,
    metrics,
    logger,
  );
}

/** The producer behind the publisher: @platformatic/kafka (the default) or kafkajs. */
async function connectSink(
  config: RelayConfig,
  security: KafkaSecurity,
  kafka: Kafka,
  metrics: RelayMetrics,
  logger: Logger,
): Promise<KafkaSink> {
  if (config.RELAY_KAFKA_CLIENT === 'platformatic')
    return createPlatformaticSink(config.KAFKA_BROKERS, 'sluice-outbox-relay', security, (err, attempt) => {
      metrics.sendRetries.inc();
      logger.warn({ err, attempt }, 'send failed; looking the leaders up again and retrying');
    });
  return new KafkajsSink(
    () => createIdempotentProducer(kafka),
    () => metrics.producersReplaced.inc(),
  );
}

export interface RelayApp {
  relay: Relay;
  leader: LeaderLock;
  health: Health;
  pool: Pool;
  /** Runs the relay until stop(); rejects on an error only an operator can fix. */
  run(): Promise<void>;
  /** Stops the relay and closes its connections. */
  close(): Promise<void>;
}

/** What a test may change in the wiring: the leader lock's connection, routed through a proxy it can stall. */
export interface RelaySeams {
  leaderDatabaseUrl?: string;
}

/** Wires the relay: its database pool and migrations, Kafka, the source for RELAY_MODE and leader election. */
export async function buildRelay(
  config: RelayConfig,
  logger: Logger,
  registry: Registry,
  seams: RelaySeams = {},
  tracer?: Tracer,
): Promise<RelayApp> {
  const metrics = createRelayMetrics(registry);
  metrics.recordsLimit.set(config.RELAY_MAX_RECORDS_IN_FLIGHT);
  metrics.bytesLimit.set(config.RELAY_MAX_BYTES_IN_FLIGHT);
  const pool = createPool({ url: config.DATABASE_URL, applicationName: 'sluice-outbox-relay', max: 3 });
  registerPoolMetrics(pool, registry, 'relay');
  if (config.MIGRATE_ON_START) await applyMigrations(pool, RELAY_MIGRATIONS);
  const security = kafkaSecurityFrom(config);
  const kafka = createKafka({ brokers: config.KAFKA_BROKERS, security, clientId: 'sluice-outbox-relay', logger });
  const admin = kafka.admin();
  const sink = await connectSink(config, security, kafka, metrics, logger);
  metrics.info.set({ mode: config.RELAY_MODE, kafka_client: sink.client }, 1);
  await admin.connect();

  const scope =
    config.RELAY_MODE === 'wal' ? config.OUTBOX_SLOT_NAME : `${config.OUTBOX_TABLE.schema}.${config.OUTBOX_TABLE.name}`;
  const leader = new LeaderLock(
    {
      url: seams.leaderDatabaseUrl ?? config.DATABASE_URL,
      key: `sluice.relay.${config.RELAY_MODE}.${scope}`,
      pollMs: config.RELAY_STANDBY_POLL_MS,
      keepalive: {
        idleSec: config.RELAY_LEADER_KEEPALIVE_IDLE_SEC,
        intervalSec: config.RELAY_LEADER_KEEPALIVE_INTERVAL_SEC,
        count: config.RELAY_LEADER_KEEPALIVE_COUNT,
      },
      checkMs: config.RELAY_LEADER_CHECK_MS,
      checkTimeoutMs: config.RELAY_LEADER_CHECK_TIMEOUT_MS,
    },
    metrics,
    logger,
  );
  const publisher = new RecordPublisher(sink, new TopicRouter(admin, config.OUTBOX_TOPIC_PATTERN), metrics, () => leader.held, {
    ...(tracer && { tracer }),
    freshness: Freshness.for(registry),
    publishedAtHeader: config.RELAY_PUBLISHED_AT_HEADER,
  });
  const source = createSource(config, pool, publisher, metrics, logger);
  const relay = new Relay(
    source,
    leader,
    {
      statusIntervalMs: config.RELAY_STATUS_INTERVAL_MS,
      backoff: { initialMs: config.RELAY_RECONNECT_INITIAL_MS, maxMs: config.RELAY_RECONNECT_MAX_MS },
    },
    metrics,
    logger,
  );
  const health = new Health()
    .addReadinessCheck('postgres', async () => void (await pool.query('SELECT 1')))
    .addReadinessCheck('relay', async () => {
      // A standby is ready: it is doing its job, which is to wait.
      if (relay.state !== 'streaming' && relay.state !== 'standby') throw new Error(`relay is ${relay.state}`);
    })
    .setLivenessProbe(() =>
      relay.sinceProgressMs > config.RELAY_STALL_MS ? `no progress for ${relay.sinceProgressMs} ms` : undefined,
    );

  let running: Promise<void> | undefined;
  return {
    relay,
    leader,
    health,
    pool,
    run: () => (running ??= relay.run()),
    close: async () => {
      health.startDraining();
      await relay.stop();
      await running?.catch(() => undefined);
      await Promise.all([sink.close(), admin.disconnect()]);
      await pool.end();
    },
  };
}
