import { join } from 'node:path';
import type { Server } from 'node:http';
import type { Producer } from 'kafkajs';
import { Gauge, type Registry } from 'prom-client';
import type { Pool } from 'pg';
import { applyMigrations, createPool, ensureDatabase, registerPoolMetrics, type RetentionPurge } from '@sluice/db';
import {
  consumerSettingsFrom,
  AvroEventCodec,
  connectCommandEncoder,
  createIdempotentProducer,
  createKafka,
  kafkaSecurityFrom,
  deadLetterTopic,
  ensureTopics,
  KafkaPublisher,
  readSigningKey,
  routeTopic,
} from '@sluice/messaging';
import { Health, type Logger, type Tracer } from '@sluice/observability';
import { walletCatalog, walletCommandsCatalog } from '@sluice/schemas';
import { CommandDispatcher } from './commands/command-dispatcher';
import type { PaymentsWorkerConfig } from './config';
import { walletEventsConsumer } from './events/wallet-events';
import { createWorkerHttpServer } from './http-server';
import { ProviderGateway } from './provider/provider-gateway';
import { PspClient } from './provider/psp-client';
import { SagaRunner } from './saga/saga-runner';
import { SagaStore } from './saga/saga-store';
import { WebhookInbox } from './webhooks/webhook-inbox';
import { PollWait } from './poll-wait';
import { startPaymentsPurge } from './lifecycle';

export const PAYMENTS_MIGRATIONS = { folder: join(__dirname, '../migrations'), table: '__migrations_payments_worker' };

export interface PaymentsWorker {
  pool: Pool;
  health: Health;
  server: Server;
  gateway: ProviderGateway;
  start(): Promise<void>;
  close(): Promise<void>;
}

/** Wires the worker: its tables, the provider gateway, the saga runner, the webhook inbox, the command dispatcher, the event consumer. */
export async function buildPaymentsWorker(
  config: PaymentsWorkerConfig,
  logger: Logger,
  registry: Registry,
  tracer?: Tracer,
): Promise<PaymentsWorker> {
  const health = new Health();
  if (config.MIGRATE_ON_START) await ensureDatabase(config.DATABASE_URL);
  const pool = createPool({
    url: config.DATABASE_URL,
    applicationName: 'sluice-payments-worker',
    max: config.DB_POOL_MAX,
    statementTimeoutMs: config.DB_STATEMENT_TIMEOUT_MS,
    idleInTransactionTimeoutMs: config.DB_IDLE_IN_TRANSACTION_TIMEOUT_MS,
  });
  registerPoolMetrics(pool, registry, 'main');
  health.addReadinessCheck('postgres', async () => void (await pool.query('SELECT 1')));
  if (config.MIGRATE_ON_START) await applyMigrations(pool, PAYMENTS_MIGRATIONS);

  const kafka = createKafka({
    brokers: config.KAFKA_BROKERS,
    security: kafkaSecurityFrom(config),
    clientId: config.PAYMENTS_GROUP_ID,
    logger,
  });
  const eventsTopic = routeTopic(config.OUTBOX_TOPIC_PATTERN, walletCatalog.aggregateType);
  const dlqTopic = config.PAYMENTS_DLQ_TOPIC ?? deadLetterTopic(config.PAYMENTS_GROUP_ID);
  await ensureTopics(kafka, [
    { topic: eventsTopic, partitions: 12, retainForever: true },
    {
      topic: config.WALLET_COMMANDS_TOPIC,
      partitions: config.WALLET_COMMANDS_PARTITIONS,
      config: { 'retention.ms': String(config.WALLET_COMMANDS_RETENTION_HOURS * 3_600_000) },
    },
    { topic: dlqTopic, partitions: 1, retainForever: true },
  ]);
  const producer: Producer = createIdempotentProducer(kafka);
  await producer.connect();
  const codec = AvroEventCodec.connect(config.SCHEMA_REGISTRY_URL, [walletCatalog], config.OUTBOX_TOPIC_PATTERN);

  const store = new SagaStore(pool);
  const gateway = new ProviderGateway(
    new PspClient(config.PSP_URL, config.PSP_TIMEOUT_MS, logger.child({ component: 'provider' })),
    {
      provider: config.PSP_NAME,
      retries: config.PSP_RETRIES,
      retryBaseMs: config.PSP_RETRY_BASE_MS,
      retryMaxMs: config.PSP_RETRY_MAX_MS,
      concurrency: config.PSP_CONCURRENCY,
      queue: config.PSP_QUEUE,
      circuit: {
        failureRate: config.PSP_CIRCUIT_FAILURE_RATE,
        minimumCalls: config.PSP_CIRCUIT_MIN_CALLS,
        windowMs: config.PSP_CIRCUIT_WINDOW_MS,
        openMs: config.PSP_CIRCUIT_OPEN_MS,
      },
      registry,
      logger: logger.child({ component: 'provider' }),
    },
  );
  const timings = {
    answerDeadlineMs: config.PAYOUT_ANSWER_DEADLINE_MS,
    reconfirmMs: config.PAYOUT_RECONFIRM_MS,
    stepBackoffBaseMs: config.PAYOUT_STEP_BACKOFF_BASE_MS,
    stepBackoffMaxMs: config.PAYOUT_STEP_BACKOFF_MAX_MS,
    declineCodes: config.PSP_DECLINE_CODES,
  };
  const pollWait = () => new PollWait(config.PAYOUT_POLL_MS, config.PAYOUT_IDLE_POLL_MAX_MS);
  if (!config.COMMAND_SIGNING_KEY_FILE)
    logger.warn('no COMMAND_SIGNING_KEY_FILE: wallet commands go unsigned and will be refused');
  const encoder = await connectCommandEncoder({
    registryUrl: config.SCHEMA_REGISTRY_URL,
    catalog: walletCommandsCatalog,
    topic: config.WALLET_COMMANDS_TOPIC,
    issuer: config.COMMAND_ISSUER,
    key: config.COMMAND_SIGNING_KEY_FILE ? readSigningKey(config.COMMAND_SIGNING_KEY_FILE) : undefined,
    register: config.SCHEMA_AUTO_REGISTER,
  });
  const dispatcher = new CommandDispatcher(pool, producer, config.WALLET_COMMANDS_TOPIC, pollWait(), logger, registry, encoder);
  const runner = new SagaRunner(
    pool,
    store,
    gateway,
    { poll: pollWait(), leaseMs: config.PAYOUT_LEASE_MS, timings },
    logger.child({ component: 'saga' }),
    registry,
    () => dispatcher.poke(),
    tracer,
  );
  const inbox = new WebhookInbox(
    pool,
    store,
    timings,
    pollWait(),
    logger.child({ component: 'webhooks' }),
    registry,
    (d, at, id) => {
      runner.observe(d, at, id);
      if (d.commands.length > 0) dispatcher.poke();
    },
    tracer,
  );
  // History replayed into a fresh store (or simply old news) may have been paid by an earlier store: ask the provider first.
  const startedAt = Date.now();
  const freshStore = await store.isEmpty();
  const lookUpFirst = (requestedAt: Date): boolean =>
    requestedAt.getTime() < Date.now() - config.PAYOUT_LOOK_UP_FIRST_AFTER_MS ||
    (freshStore && requestedAt.getTime() < startedAt);
  // A new group starts at the end of the topic: the worker is ready once it has joined, so what
  // is requested after readiness is never behind its starting point.
  let joined = false;
  health.addReadinessCheck('wallet-events', () =>
    joined ? Promise.resolve() : Promise.reject(new Error('not yet in its consumer group')),
  );
  const events = walletEventsConsumer(
    {
      kafka,
      pool,
      codec,
      store,
      publisher: new KafkaPublisher(producer),
      logger: logger.child({ component: 'wallet-events' }),
      registry,
      onNewSagas: () => runner.poke(),
      lookUpFirst,
      onAssigned: () => (joined = true),
      ...(tracer && { tracer }),
    },
    {
      topic: eventsTopic,
      groupId: config.PAYMENTS_GROUP_ID,
      fromBeginning: config.PAYMENTS_FROM_BEGINNING,
      provider: config.PSP_NAME,
      deadLetterTopic: dlqTopic,
      ...consumerSettingsFrom(config),
      retry: {
        maxAttempts: config.CONSUMER_RETRY_ATTEMPTS,
        baseMs: config.CONSUMER_RETRY_BASE_MS,
        maxMs: config.CONSUMER_RETRY_MAX_MS,
      },
    },
  );
  new Gauge({
    name: 'sluice_payments_sagas',
    help: 'Withdrawals in flight by saga state (requested, submitted) and whether they are parked: the queue depth',
    labelNames: ['state', 'parked'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const s of ['requested', 'submitted']) for (const p of ['true', 'false']) this.set({ state: s, parked: p }, 0);
      for (const r of await store.depth().catch(() => [])) this.set({ state: r.state, parked: String(r.parked) }, r.n);
    },
  });
  const server = createWorkerHttpServer({
    inbox,
    secret: config.PSP_WEBHOOK_SECRET,
    toleranceS: config.PSP_WEBHOOK_TOLERANCE_S,
    health,
    registry: config.METRICS_PORT === undefined ? registry : undefined,
    logger,
  });

  let purge: RetentionPurge | undefined;
  return {
    pool,
    health,
    server,
    gateway,
    start: async () => {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(config.PORT, config.HOST, () => resolve());
      });
      inbox.start();
      dispatcher.start();
      runner.start();
      await events.start();
      purge = startPaymentsPurge(config, logger, registry);
    },
    close: async () => {
      health.startDraining();
      await purge?.stop();
      await events.stop();
      await runner.stop();
      await inbox.stop();
      await dispatcher.stop();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await producer.disconnect();
      await pool.end();
    },
  };
}
