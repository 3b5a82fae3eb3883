import { loadConfig, tracingSettingsOf } from '@sluice/config';
import { applyMigrations, createPool, ensureDatabase, registerPoolMetrics } from '@sluice/db';
import {
  AvroEventCodec,
  createIdempotentProducer,
  createKafka,
  kafkaSecurityFrom,
  ensureTopics,
  partitionCount,
  registryEndpoint,
  registryHeaders,
  routeTopic,
} from '@sluice/messaging';
import {
  createLogger,
  createMetricsRegistry,
  createTracing,
  Freshness,
  Health,
  installShutdown,
  startMetricsServer,
  startOpsServer,
} from '@sluice/observability';
import { walletCatalog } from '@sluice/schemas';
import { projectorConfig } from './config';
import { DeadLetterPublisher, deadLetterTopic } from './engine/dead-letters';
import { LagMonitor } from './engine/lag-monitor';
import { ProjectorMetrics } from './engine/metrics';
import { ProjectorEngine } from './engine/projector-engine';
import { LiveTargets } from './engine/targets';
import { startProjectorPurge } from './lifecycle';
import { PROJECTOR_MIGRATIONS } from './migrations';
import { projectionNamed } from './projections';
import { SnapshotMetrics } from './snapshots/metrics';
import { SnapshotScheduler } from './snapshots/scheduler';
import { ensurePositions } from './store/checkpoints';
import { registerRegistryMetrics } from './store/registry-metrics';
import { ensureLiveVersion } from './store/versions';

async function main(): Promise<void> {
  const config = loadConfig(projectorConfig);
  const logger = createLogger('projector', config.LOG_LEVEL);
  const registry = createMetricsRegistry('projector');
  const health = new Health();
  const projections = config.PROJECTOR_PROJECTIONS.map(projectionNamed);
  for (const p of projections) {
    if (p.aggregateType !== walletCatalog.aggregateType)
      throw new Error(`projection ${p.name} reads ${p.aggregateType}; this build consumes the wallet topic`);
  }

  // `sluice migrate` runs `main.js migrate` as the owner role: the projector's tables and live versions, then exit.
  const migrateOnly = process.argv[2] === 'migrate';
  if (config.MIGRATE_ON_START || migrateOnly) await ensureDatabase(config.DATABASE_URL);
  const pool = createPool({
    url: config.DATABASE_URL,
    applicationName: 'sluice-projector',
    max: config.DB_POOL_MAX,
    statementTimeoutMs: config.DB_STATEMENT_TIMEOUT_MS,
    idleInTransactionTimeoutMs: config.DB_IDLE_IN_TRANSACTION_TIMEOUT_MS,
    // Statements sent together leave in one write and one round trip: BEGIN with a batch's first
    // statement, the projections' steps side by side, the checkpoints and notification with COMMIT.
    pipeline: true,
  });
  registerPoolMetrics(pool, registry, 'main');
  registerRegistryMetrics(pool, registry);
  health.addReadinessCheck('postgres', async () => void (await pool.query('SELECT 1')));

  const kafka = createKafka({
    brokers: config.KAFKA_BROKERS,
    security: kafkaSecurityFrom(config),
    clientId: 'sluice-projector',
    logger,
  });
  const topic = routeTopic(config.OUTBOX_TOPIC_PATTERN, walletCatalog.aggregateType);
  const dlqTopic = config.PROJECTOR_DLQ_TOPIC ?? deadLetterTopic(config.PROJECTOR_GROUP_ID);
  // Auto-creation is off on the broker; whichever of relay and projector starts first creates the topic.
  await ensureTopics(kafka, [
    { topic, partitions: config.PROJECTOR_TOPIC_PARTITIONS, retainForever: true },
    { topic: dlqTopic, partitions: config.PROJECTOR_DLQ_PARTITIONS, retainForever: true },
  ]);
  if (config.MIGRATE_ON_START || migrateOnly) {
    await applyMigrations(pool, PROJECTOR_MIGRATIONS);
    const partitions = await partitionCount(kafka, topic);
    for (const def of projections) {
      const live = await ensureLiveVersion(pool, def, { consumerGroup: config.PROJECTOR_GROUP_ID, topic });
      // A row per partition, so readers know the partition count and where each stands.
      await ensurePositions(pool, live, topic, new Map(Array.from({ length: partitions }, (_, p) => [p, { start: 0n }])));
      logger.info({ projection: def.name, version: live.version, schema: live.schema }, 'projection live version ready');
    }
  }
  if (migrateOnly) {
    await pool.end();
    return;
  }
  const codec = AvroEventCodec.connect(config.SCHEMA_REGISTRY_URL, [walletCatalog], config.OUTBOX_TOPIC_PATTERN);
  const producer = createIdempotentProducer(kafka);
  await producer.connect();
  health.addReadinessCheck('schema-registry', async () => {
    const registry = registryEndpoint(config.SCHEMA_REGISTRY_URL);
    const res = await fetch(`${registry.url}/config`, { headers: registryHeaders(registry), signal: AbortSignal.timeout(1_500) });
    if (!res.ok) throw new Error(`registry answered ${res.status}`);
  });

  const tracing = createTracing('projector', tracingSettingsOf(config));
  const targets = new LiveTargets(projections);
  const metrics = new ProjectorMetrics(registry);
  const engine = new ProjectorEngine({
    kafka,
    pool,
    codec,
    targets,
    topic,
    groupId: config.PROJECTOR_GROUP_ID,
    logger,
    metrics,
    consumer: {
      sessionTimeoutMs: config.KAFKA_SESSION_TIMEOUT_MS,
      heartbeatIntervalMs: config.KAFKA_HEARTBEAT_INTERVAL_MS,
      maxBytesPerPartition: config.PROJECTOR_MAX_BYTES_PER_PARTITION,
      maxBytes: config.KAFKA_FETCH_MAX_BYTES,
      maxWaitTimeMs: config.KAFKA_FETCH_MAX_WAIT_MS,
      minBytes: config.KAFKA_FETCH_MIN_BYTES,
      lingerMs: config.KAFKA_FETCH_LINGER_MS,
      partitionsConsumedConcurrently: config.PROJECTOR_PARTITIONS_CONCURRENTLY,
    },
    retry: {
      maxAttempts: config.PROJECTOR_RETRY_ATTEMPTS,
      record: { baseMs: config.PROJECTOR_RETRY_BASE_MS, maxMs: config.PROJECTOR_RETRY_MAX_MS },
      systemic: { baseMs: config.PROJECTOR_RETRY_BASE_MS, maxMs: config.PROJECTOR_SYSTEMIC_RETRY_MAX_MS },
    },
    deadLetters: new DeadLetterPublisher(producer, config.PROJECTOR_GROUP_ID, dlqTopic),
    notify: config.PROJECTOR_NOTIFY,
    synchronousCommit: config.PROJECTOR_SYNCHRONOUS_COMMIT,
    groupMaxRecords: config.PROJECTOR_GROUP_MAX_RECORDS,
    stallTimeoutMs: config.PROJECTOR_STALL_MS,
    tracer: tracing.tracer,
    freshness: Freshness.for(registry),
  });
  const admin = kafka.admin();
  await admin.connect();
  const lag = new LagMonitor({
    admin,
    pool,
    topic,
    targets,
    metrics,
    owned: () => engine.ownedPartitions(),
    logger,
    intervalMs: config.PROJECTOR_LAG_INTERVAL_MS,
  });
  health.setLivenessProbe(() => engine.stalledReason());
  health.addReadinessCheck('consumer', async () => engine.assertConsuming());
  // With METRICS_PORT, PORT serves health only and /metrics has its own listener.
  const ops = await startOpsServer({
    host: config.HOST,
    port: config.PORT,
    health,
    registry: config.METRICS_PORT === undefined ? registry : undefined,
    logger,
  });
  const metricsServer = await startMetricsServer({ host: config.HOST, port: config.METRICS_PORT, registry, logger });
  const purge = startProjectorPurge(config, logger, registry);
  const snapshots =
    config.PROJECTOR_SNAPSHOT_INTERVAL_MS > 0
      ? new SnapshotScheduler({
          pool,
          projections,
          topic,
          intervalMs: config.PROJECTOR_SNAPSHOT_INTERVAL_MS,
          keep: config.PROJECTOR_SNAPSHOT_KEEP,
          metrics: new SnapshotMetrics(registry),
          logger,
        })
      : undefined;

  installShutdown({
    logger,
    deadlineMs: config.SHUTDOWN_DEADLINE_MS,
    // Stop fetching, finish and commit the batches in flight, leave the group; then the pools.
    steps: () => [
      { name: 'readiness', run: async () => health.startDraining() },
      { name: 'lag monitor', run: () => lag.stop() },
      { name: 'retention purge', run: async () => purge?.stop() },
      { name: 'snapshots', run: async () => snapshots?.stop() },
      { name: 'consumer', run: () => engine.stop() },
      { name: 'dead-letter producer', run: () => producer.disconnect() },
      { name: 'kafka admin', run: () => admin.disconnect() },
      { name: 'ops', run: () => ops.close() },
      { name: 'metrics', run: async () => metricsServer?.close() },
      { name: 'postgres', run: () => pool.end() },
      { name: 'tracing', run: () => tracing.shutdown() },
    ],
  });
  await engine.start();
  lag.start();
  snapshots?.start();
  logger.info(
    { topic, groupId: config.PROJECTOR_GROUP_ID, projections: projections.map((p) => p.name), dlqTopic, port: ops.port },
    'projector started',
  );
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
