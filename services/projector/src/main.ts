import { loadConfig } from '@sluice/config';
import { applyMigrations, createPool, ensureDatabase, registerPoolMetrics } from '@sluice/db';
import { AvroEventCodec, createKafka, ensureTopics, routeTopic } from '@sluice/messaging';
import { createLogger, createMetricsRegistry, Health, installShutdown, startOpsServer } from '@sluice/observability';
import { WALLET_PROJECTION_MIGRATIONS } from '@sluice/projection-wallet';
import { walletCatalog } from '@sluice/schemas';
import { projectorConfig } from './config';
import { ProjectorEngine } from './engine/projector-engine';
import { PROJECTOR_MIGRATIONS } from './migrations';
import { walletProjection } from './wallet-projection';

async function main(): Promise<void> {
  const config = loadConfig(projectorConfig);
  const logger = createLogger('projector', config.LOG_LEVEL);
  const registry = createMetricsRegistry('projector');
  const health = new Health();

  if (config.MIGRATE_ON_START) await ensureDatabase(config.DATABASE_URL);
  const pool = createPool({
    url: config.DATABASE_URL,
    applicationName: 'sluice-projector',
    max: config.DB_POOL_MAX,
    statementTimeoutMs: config.DB_STATEMENT_TIMEOUT_MS,
    idleInTransactionTimeoutMs: config.DB_IDLE_IN_TRANSACTION_TIMEOUT_MS,
  });
  registerPoolMetrics(pool, registry, 'main');
  health.addReadinessCheck('postgres', async () => void (await pool.query('SELECT 1')));
  if (config.MIGRATE_ON_START) {
    await applyMigrations(pool, PROJECTOR_MIGRATIONS);
    await applyMigrations(pool, WALLET_PROJECTION_MIGRATIONS);
  }

  const kafka = createKafka({ brokers: config.KAFKA_BROKERS, clientId: 'sluice-projector', logger });
  const topic = routeTopic(config.OUTBOX_TOPIC_PATTERN, walletCatalog.aggregateType);
  // Auto-creation is off on the broker; whichever of relay and projector starts first creates the topic.
  await ensureTopics(kafka, [{ topic, partitions: config.PROJECTOR_TOPIC_PARTITIONS, retainForever: true }]);
  const codec = AvroEventCodec.connect(config.SCHEMA_REGISTRY_URL, [walletCatalog], config.OUTBOX_TOPIC_PATTERN);

  const engine = new ProjectorEngine({
    kafka,
    pool,
    codec,
    projection: walletProjection,
    topic,
    groupId: config.PROJECTOR_GROUP_ID,
    logger,
    registry,
    consumer: {
      sessionTimeoutMs: config.KAFKA_SESSION_TIMEOUT_MS,
      heartbeatIntervalMs: config.KAFKA_HEARTBEAT_INTERVAL_MS,
      maxBytesPerPartition: config.PROJECTOR_MAX_BYTES_PER_PARTITION,
      maxWaitTimeMs: config.KAFKA_FETCH_MAX_WAIT_MS,
      partitionsConsumedConcurrently: config.PROJECTOR_PARTITIONS_CONCURRENTLY,
    },
    stallTimeoutMs: config.PROJECTOR_STALL_MS,
  });
  health.setLivenessProbe(() => engine.stalledReason());
  health.addReadinessCheck('consumer', async () => engine.assertConsuming());
  const ops = await startOpsServer({ host: config.HOST, port: config.PORT, health, registry, logger });

  installShutdown({
    logger,
    deadlineMs: config.SHUTDOWN_DEADLINE_MS,
    steps: () => [
      { name: 'readiness', run: async () => health.startDraining() },
      { name: 'consumer', run: () => engine.stop() },
      { name: 'ops', run: () => ops.close() },
      { name: 'postgres', run: () => pool.end() },
    ],
  });
  await engine.start();
  logger.info({ topic, groupId: config.PROJECTOR_GROUP_ID, port: ops.port }, 'projector started');
}

main().catch((err: unknown) => {
  // Logged as JSON so the supervisor's log shows why start-up failed.
  console.error(
    JSON.stringify({
      level: 'fatal',
      service: 'projector',
      msg: 'start-up failed',
      err: String(err),
      stack: (err as Error).stack,
    }),
  );
  process.exit(1);
});
