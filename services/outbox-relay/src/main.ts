import { loadConfig } from '@sluice/config';
import { createPool, registerPoolMetrics } from '@sluice/db';
import { createIdempotentProducer, createKafka } from '@sluice/messaging';
import { createLogger, createMetricsRegistry, Health, installShutdown, startOpsServer } from '@sluice/observability';
import { relayConfig } from './config';
import { createRelayMetrics } from './metrics';
import { Relay } from './relay';

async function main(): Promise<void> {
  const config = loadConfig(relayConfig);
  const logger = createLogger('outbox-relay', config.LOG_LEVEL);
  const registry = createMetricsRegistry('outbox-relay');
  const health = new Health();

  const pool = createPool({ url: config.DATABASE_URL, applicationName: 'sluice-outbox-relay-admin', max: 2 });
  registerPoolMetrics(pool, registry, 'admin');
  const kafka = createKafka({ brokers: config.KAFKA_BROKERS, clientId: 'sluice-outbox-relay', logger });
  const producer = createIdempotentProducer(kafka);
  const admin = kafka.admin();
  await Promise.all([producer.connect(), admin.connect()]);

  const relay = new Relay(
    {
      databaseUrl: config.DATABASE_URL,
      slot: config.OUTBOX_SLOT_NAME,
      publication: config.OUTBOX_PUBLICATION_NAME,
      table: config.OUTBOX_TABLE,
      topicPattern: config.OUTBOX_TOPIC_PATTERN,
      headerColumns: config.RELAY_HEADER_COLUMNS,
      limits: {
        maxRecordsInFlight: config.RELAY_MAX_RECORDS_IN_FLIGHT,
        maxBytesInFlight: config.RELAY_MAX_BYTES_IN_FLIGHT,
        maxBatchRecords: config.RELAY_MAX_BATCH_RECORDS,
      },
      statusIntervalMs: config.RELAY_STATUS_INTERVAL_MS,
      retainedWalWarnBytes: config.RELAY_RETAINED_WAL_WARN_BYTES,
      reconnectBackoff: { initialMs: config.RELAY_RECONNECT_INITIAL_MS, maxMs: config.RELAY_RECONNECT_MAX_MS },
    },
    pool,
    producer,
    admin,
    createRelayMetrics(registry),
    logger,
  );

  health
    .addReadinessCheck('postgres', async () => void (await pool.query('SELECT 1')))
    .addReadinessCheck('replication', async () => {
      if (relay.state !== 'streaming') throw new Error(`relay is ${relay.state}`);
    })
    .setLivenessProbe(() =>
      relay.sinceProgressMs > config.RELAY_STALL_MS ? `no replication progress for ${relay.sinceProgressMs} ms` : undefined,
    );
  const ops = await startOpsServer({ host: config.HOST, port: config.PORT, health, registry, logger });

  const shutdown = installShutdown({
    logger,
    deadlineMs: config.SHUTDOWN_DEADLINE_MS,
    steps: () => [
      { name: 'readiness', run: async () => health.startDraining() },
      { name: 'relay', run: () => relay.stop() },
      { name: 'kafka', run: async () => void (await Promise.all([producer.disconnect(), admin.disconnect()])) },
      { name: 'postgres', run: () => pool.end() },
      { name: 'ops', run: () => ops.close() },
    ],
  });

  relay.run().then(
    () => undefined,
    (err: unknown) => {
      // Unrecoverable (e.g. an invalidated slot): exit non-zero so the supervisor restarts
      // the relay and the operator sees the error at each attempt.
      logger.fatal({ err }, 'relay stopped on an error retrying cannot fix');
      void shutdown('fatal', 1);
    },
  );
}

main().catch((err: unknown) => {
  console.error(
    JSON.stringify({
      level: 'fatal',
      service: 'outbox-relay',
      msg: 'start-up failed',
      err: String(err),
      stack: (err as Error).stack,
    }),
  );
  process.exit(1);
});
