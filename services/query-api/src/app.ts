import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { Pool } from 'pg';
import { createPool, registerPoolMetrics } from '@sluice/db';
import { createHttpApp } from '@sluice/http';
import { Health, type Logger, type Registry } from '@sluice/observability';
import { QueryApiModule } from './app.module';
import type { QueryApiConfig } from './config';
import { WalletReader } from './wallets/wallet-reader';

export interface QueryApi {
  app: NestFastifyApplication;
  pool: Pool;
  health: Health;
  close(): Promise<void>;
}

/** Wires the query API: database pool, read-model readers and HTTP, ready to listen. */
export async function buildQueryApi(config: QueryApiConfig, logger: Logger, registry: Registry): Promise<QueryApi> {
  const health = new Health();
  const pool = createPool({
    url: config.DATABASE_URL,
    applicationName: 'sluice-query-api',
    max: config.DB_POOL_MAX,
    statementTimeoutMs: config.DB_STATEMENT_TIMEOUT_MS,
    idleInTransactionTimeoutMs: config.DB_IDLE_IN_TRANSACTION_TIMEOUT_MS,
  });
  registerPoolMetrics(pool, registry, 'main');
  health.addReadinessCheck('postgres', async () => void (await pool.query('SELECT 1')));
  const app = await createHttpApp(QueryApiModule.with({ wallets: new WalletReader(pool) }), { logger, registry, health });
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
