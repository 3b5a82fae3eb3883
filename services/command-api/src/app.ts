import { join } from 'node:path';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { Producer } from 'kafkajs';
import type { Pool } from 'pg';
import { authSettingsOf, TokenVerifier } from '@sluice/auth';
import { applyMigrations, createPool, ensureDatabase, registerPoolMetrics } from '@sluice/db';
import { createHttpApp } from '@sluice/http';
import { AvroEventCodec, createKafka, kafkaSecurityFrom, readIssuers } from '@sluice/messaging';
import type { RuntimeTransport } from '@sluice/messaging-nest';
import { Health, type Logger, type Registry, type Tracer } from '@sluice/observability';
import { OutboxSlot, OutboxWriter } from '@sluice/outbox';
import { AdmissionController, IngressLimiter, LagShedder, slotLagProbe } from '@sluice/resilience';
import { walletCatalog, walletCommandsCatalog } from '@sluice/schemas';
import { CommandApiModule } from './app.module';
import { isDatabaseCongestion } from './commands/command-problems';
import { WalletCommands } from './commands/wallet-commands';
import type { CommandApiConfig } from './config';
import { INBOX_MIGRATIONS } from './internal/inbox';
import {
  checkCommandTopicRetention,
  connectDeadLetterProducer,
  ensureCommandTopics,
  internalCommandsTransport,
  startInternalCommands,
} from './internal/internal-commands';
import { WalletCommandHandler } from './internal/wallet-command-handler';
import { startCommandApiPurge } from './lifecycle';
import { WithdrawalStatusReader } from './withdrawals/withdrawal-status';

export const COMMAND_API_MIGRATIONS = {
  folder: join(__dirname, '../migrations'),
  table: '__migrations_command_api',
};

/**
 * The command API's tables and the inbox's, then (WAL mode) the outbox's
 * publication and slot: as the owner role, by `sluice migrate`, or at start
 * with MIGRATE_ON_START in local development.
 */
export async function migrateCommandApi(config: CommandApiConfig, pool: Pool, options = { ensureSlot: true }): Promise<void> {
  await applyMigrations(pool, COMMAND_API_MIGRATIONS);
  await applyMigrations(pool, INBOX_MIGRATIONS);
  if (config.OUTBOX_MODE === 'wal' && options.ensureSlot) await ensureOutboxSlot(config, pool);
}

/** Before the first write: a slot captures only what is written after it exists. */
async function ensureOutboxSlot(config: CommandApiConfig, pool: Pool): Promise<void> {
  await new OutboxSlot(pool, config.OUTBOX_SLOT_NAME, config.OUTBOX_PUBLICATION_NAME, config.OUTBOX_TABLE).ensure();
}

export interface CommandApi {
  app: NestFastifyApplication;
  pool: Pool;
  health: Health;
  /** Admission of commands to the database stage. */
  admission: AdmissionController;
  /** Admission of status reads (withdrawal polls), apart from commands'. */
  readAdmission: AdmissionController;
  shedder: LagShedder;
  /** Starts the internal command consumer, when enabled (call after app.init or before listen). */
  startInternalCommands(): Promise<void>;
  close(): Promise<void>;
}

/** Wires the command API: database, schemas, outbox, backpressure stages, HTTP and the internal command consumer. */
export async function buildCommandApi(
  config: CommandApiConfig,
  logger: Logger,
  registry: Registry,
  tracer?: Tracer,
): Promise<CommandApi> {
  const health = new Health();
  // Read before anything starts: a missing key-set file fails start-up, not the first request.
  const auth = authSettingsOf(config);
  const verifier = TokenVerifier.create(auth.verifier);
  if (config.MIGRATE_ON_START) await ensureDatabase(config.DATABASE_URL);
  const transactions = config.COMMAND_GROUP_TRANSACTIONS ?? Math.min(2, config.DB_POOL_MAX);
  const pool = createPool({
    url: config.DATABASE_URL,
    applicationName: 'sluice-command-api',
    max: config.DB_POOL_MAX,
    // The command transactions' connections stay open through quiet spells: the first batch of a
    // burst does not wait for a connection's start-up.
    min: transactions,
    statementTimeoutMs: config.DB_STATEMENT_TIMEOUT_MS,
    idleInTransactionTimeoutMs: config.DB_IDLE_IN_TRANSACTION_TIMEOUT_MS,
    // A batch's save statement has a few CTEs per command: replanning it on every execution
    // (PostgreSQL's first five of each prepared statement) costs milliseconds at 16 commands.
    genericPlans: true,
    // BEGIN travels with a batch's first statement and COMMIT with its last: two round trips a batch.
    pipeline: true,
  });
  registerPoolMetrics(pool, registry, 'main');
  health.addReadinessCheck('postgres', async () => void (await pool.query('SELECT 1')));
  if (config.MIGRATE_ON_START) await migrateCommandApi(config, pool, { ensureSlot: config.OUTBOX_ENSURE_SLOT });
  else if (config.OUTBOX_MODE === 'wal' && config.OUTBOX_ENSURE_SLOT) await ensureOutboxSlot(config, pool);

  const codec = AvroEventCodec.connect(config.SCHEMA_REGISTRY_URL, [walletCatalog], config.OUTBOX_TOPIC_PATTERN);
  const subjects = config.SCHEMA_AUTO_REGISTER ? await codec.registerAll() : await codec.lookupAll();
  logger.info(
    { subjects: Object.fromEntries(subjects) },
    config.SCHEMA_AUTO_REGISTER ? 'event schemas registered' : 'event schemas found',
  );

  // PostgreSQL is the dependency every command and status read needs. Admission bounds the requests
  // in the database stage (an adaptive limit, then a short bounded queue, then 503). Admitted
  // commands wait for their batch's transaction (CommitGroups), which holds one pooled connection
  // for the whole batch; COMMAND_GROUP_TRANSACTIONS of them run at once, the rest of the pool serves reads.
  const databaseAdmission = (dependency: string, limit: { min: number; max: number }) =>
    new AdmissionController({
      dependency,
      limit: { initial: limit.max, ...limit, latencyThresholdMs: config.DB_ADMISSION_LATENCY_THRESHOLD_MS },
      maxQueueDepth: config.DB_ADMISSION_QUEUE_DEPTH,
      maxQueueWaitMs: config.DB_ADMISSION_QUEUE_WAIT_MS,
      isCongestion: isDatabaseCongestion,
      registry,
    });
  const admission = databaseAdmission('postgres', { min: config.DB_ADMISSION_MIN_LIMIT, max: config.DB_ADMISSION_MAX_LIMIT });
  const shedder = new LagShedder({
    probe: slotLagProbe(pool, config.OUTBOX_SLOT_NAME),
    thresholds: { relayLagBytes: config.SHED_RELAY_LAG_BYTES, retainedWalBytes: config.SHED_RETAINED_WAL_BYTES },
    intervalMs: config.SHED_PROBE_INTERVAL_MS,
    registry,
    onProbeError: (err) => logger.warn({ err }, 'reading the relay lag failed; keeping the last reading'),
  });
  if (config.OUTBOX_MODE === 'wal') await shedder.start();
  const ingress = new IngressLimiter({
    global: { ratePerSec: config.INGRESS_RATE_PER_SEC, capacity: config.INGRESS_BURST },
    perClient: { ratePerSec: config.CLIENT_RATE_PER_SEC, capacity: config.CLIENT_BURST },
    registry,
  });

  const commands = new WalletCommands(pool, new OutboxWriter(codec), admission, {
    conflictRetries: config.COMMAND_CONFLICT_RETRIES,
    transactions,
    maxBatch: config.COMMAND_GROUP_MAX,
    registry,
    ...(tracer && { tracer }),
  });
  // Status reads are admitted apart from commands: each holds a connection of the pool's rest (the
  // connections the command transactions leave), and a burst of commands filling the commands'
  // limit and queue must not refuse the polls clients make for the withdrawals already accepted,
  // nor a burst of polls the commands.
  const readSlots = Math.max(1, config.DB_POOL_MAX - transactions);
  const readAdmission = databaseAdmission('postgres_reads', { min: 1, max: readSlots });
  const withdrawals = new WithdrawalStatusReader(pool, readAdmission, registry);

  let producer: Producer | undefined;
  let internal: { handler: WalletCommandHandler; topic: string } | undefined;
  let transport: RuntimeTransport | undefined;
  if (config.WALLET_COMMANDS_ENABLED) {
    if (config.WALLET_COMMANDS_ENSURE_TOPICS) await ensureCommandTopics(config, logger);
    const kafka = createKafka({
      brokers: config.KAFKA_BROKERS,
      security: kafkaSecurityFrom(config),
      clientId: config.WALLET_COMMANDS_GROUP_ID,
      logger,
    });
    const retentionMs = await checkCommandTopicRetention(config, kafka);
    logger.info(
      { topic: config.WALLET_COMMANDS_TOPIC, retentionHours: retentionMs / 3_600_000, inboxHours: config.INBOX_RETENTION_HOURS },
      'command topic retention checked against the inbox window',
    );
    producer = await connectDeadLetterProducer(kafka);
    const handler = new WalletCommandHandler(
      commands,
      pool,
      {
        consumer: config.WALLET_COMMANDS_GROUP_ID,
        attemptBudgetMs: config.WALLET_COMMANDS_BUDGET_MS,
        issuers: config.COMMAND_ISSUERS_FILE ? readIssuers(config.COMMAND_ISSUERS_FILE) : new Map(),
        // Reads commands only: the writer's schema comes from the registry by the id in each value.
        codec: AvroEventCodec.connect(config.SCHEMA_REGISTRY_URL, [walletCommandsCatalog], config.WALLET_COMMANDS_TOPIC),
      },
      registry,
    );
    if (!config.COMMAND_ISSUERS_FILE)
      logger.warn('no COMMAND_ISSUERS_FILE: every internal command will be refused as from an unknown issuer');
    internal = { handler, topic: config.WALLET_COMMANDS_TOPIC };
    transport = internalCommandsTransport(
      config,
      kafka,
      producer,
      logger.child({ component: 'internal-commands' }),
      registry,
      tracer,
    );
  }

  const app = await createHttpApp(
    CommandApiModule.with({
      commands,
      withdrawals,
      pollAfterSec: config.WITHDRAWAL_POLL_AFTER_SEC,
      ...(internal && { internal }),
    }),
    {
      logger,
      registry,
      health,
      ...(tracer && { tracer }),
      accessLog: config.HTTP_ACCESS_LOG,
      serveMetrics: config.METRICS_PORT === undefined,
      bodyLimit: config.HTTP_BODY_LIMIT_BYTES,
      connections: {
        maxConnections: config.HTTP_MAX_CONNECTIONS,
        keepAliveTimeoutMs: config.HTTP_KEEP_ALIVE_TIMEOUT_MS,
        headersTimeoutMs: config.HTTP_HEADERS_TIMEOUT_MS,
        requestTimeoutMs: config.HTTP_REQUEST_TIMEOUT_MS,
      },
      frontDoor: {
        requestBudgetMs: config.REQUEST_BUDGET_MS,
        ...(config.REQUEST_MAX_QUEUED_MS > 0 && { maxQueuedMs: config.REQUEST_MAX_QUEUED_MS }),
        auth: { verifier, realm: auth.realm },
        ingress,
        shedder,
        eventLoop: {
          maxEventLoopDelayMs: config.EVENT_LOOP_MAX_DELAY_MS,
          maxEventLoopUtilization: config.EVENT_LOOP_MAX_UTILIZATION,
          sampleIntervalMs: config.EVENT_LOOP_SAMPLE_MS,
          retryAfterSec: 1,
        },
      },
    },
  );
  // Started last: a start-up that fails above leaves no purge running.
  const purge = startCommandApiPurge(config, logger, registry);
  return {
    app,
    pool,
    health,
    admission,
    readAdmission,
    shedder,
    startInternalCommands: async () => {
      if (transport) await startInternalCommands(app, transport);
    },
    close: async () => {
      health.startDraining();
      shedder.stop();
      await purge?.stop();
      await app.close();
      await producer?.disconnect();
      await pool.end();
    },
  };
}
