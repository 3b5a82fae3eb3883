import 'reflect-metadata';
import { join } from 'node:path';
import { loadConfig } from '@sluice/config';
import { applyMigrations, createPool, ensureDatabase, registerPoolMetrics } from '@sluice/db';
import { createHttpApp } from '@sluice/http';
import { AvroEventCodec } from '@sluice/messaging';
import { createLogger, createMetricsRegistry, Health, installShutdown } from '@sluice/observability';
import { OutboxSlot, OutboxWriter } from '@sluice/outbox';
import { walletCatalog } from '@sluice/schemas';
import { CommandApiModule } from './app.module';
import { WalletCommands } from './commands/wallet-commands';
import { commandApiConfig } from './config';

export const COMMAND_API_MIGRATIONS = {
  folder: join(__dirname, '../migrations'),
  table: '__migrations_command_api',
};

async function main(): Promise<void> {
  const config = loadConfig(commandApiConfig);
  const logger = createLogger('command-api', config.LOG_LEVEL);
  const registry = createMetricsRegistry('command-api');
  const health = new Health();

  if (config.MIGRATE_ON_START) await ensureDatabase(config.DATABASE_URL);
  const pool = createPool({
    url: config.DATABASE_URL,
    applicationName: 'sluice-command-api',
    max: config.DB_POOL_MAX,
    statementTimeoutMs: config.DB_STATEMENT_TIMEOUT_MS,
    idleInTransactionTimeoutMs: config.DB_IDLE_IN_TRANSACTION_TIMEOUT_MS,
  });
  registerPoolMetrics(pool, registry, 'main');
  health.addReadinessCheck('postgres', async () => void (await pool.query('SELECT 1')));
  if (config.MIGRATE_ON_START) await applyMigrations(pool, COMMAND_API_MIGRATIONS);
  if (config.OUTBOX_MODE === 'wal' && config.OUTBOX_ENSURE_SLOT) {
    // Before the first write: a slot captures only what is written after it exists.
    await new OutboxSlot(pool, config.OUTBOX_SLOT_NAME, config.OUTBOX_PUBLICATION_NAME, config.OUTBOX_TABLE).ensure();
  }

  const codec = AvroEventCodec.connect(config.SCHEMA_REGISTRY_URL, [walletCatalog], config.OUTBOX_TOPIC_PATTERN);
  const subjects = await codec.registerAll();
  logger.info({ subjects: Object.fromEntries(subjects) }, 'event schemas registered');

  const commands = new WalletCommands(pool, new OutboxWriter(codec, config.OUTBOX_MODE), config.COMMAND_CONFLICT_RETRIES);
  const app = await createHttpApp(CommandApiModule.with({ commands }), {
    logger,
    registry,
    health,
    bodyLimit: config.HTTP_BODY_LIMIT_BYTES,
  });

  installShutdown({
    logger,
    deadlineMs: config.SHUTDOWN_DEADLINE_MS,
    steps: () => [
      { name: 'readiness', run: async () => health.startDraining() },
      { name: 'http', run: () => app.close() },
      { name: 'postgres', run: () => pool.end() },
    ],
  });
  await app.listen(config.PORT, config.HOST);
  logger.info({ port: config.PORT, host: config.HOST }, 'command-api listening');
}

main().catch((err: unknown) => {
  // Logged as JSON so the supervisor's log shows why start-up failed.
  console.error(JSON.stringify({ level: 'fatal', service: 'command-api', msg: 'start-up failed', err: String(err), stack: (err as Error).stack }));
  process.exit(1);
});
