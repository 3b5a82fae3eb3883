import { join } from 'node:path';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { Pool } from 'pg';
import { applyMigrations, createPool, ensureDatabase, registerPoolMetrics } from '@sluice/db';
import { createHttpApp } from '@sluice/http';
import { AvroEventCodec } from '@sluice/messaging';
import { Health, type Logger, type Registry } from '@sluice/observability';
import { OutboxSlot, OutboxWriter } from '@sluice/outbox';
import { walletCatalog } from '@sluice/schemas';
import { CommandApiModule } from './app.module';
import { WalletCommands } from './commands/wallet-commands';
import type { CommandApiConfig } from './config';

export const COMMAND_API_MIGRATIONS = {
  folder: join(__dirname, '../migrations'),
  table: '__migrations_command_api',
};

export interface CommandApi {
  app: NestFastifyApplication;
  pool: Pool;
  health: Health;
  close(): Promise<void>;
}

/** Wires the command API: database, schemas, outbox and HTTP, ready to listen. */
export async function buildCommandApi(config: CommandApiConfig, logger: Logger, registry: Registry): Promise<CommandApi> {
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
  return {
    app,
    pool,
    health,
    close: async () => {
      health.startDraining();
      await app.close();
      await pool.end();
    },
  };
}
