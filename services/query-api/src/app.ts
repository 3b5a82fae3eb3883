import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { Pool } from 'pg';
import { authSettingsOf, TokenVerifier } from '@sluice/auth';
import { createPool, registerPoolMetrics } from '@sluice/db';
import { createHttpApp } from '@sluice/http';
import { routeTopic } from '@sluice/messaging';
import { Health, type Logger, type Registry, type Tracer } from '@sluice/observability';
import { walletCatalog } from '@sluice/schemas';
import { QueryApiModule } from './app.module';
import type { QueryApiConfig } from './config';
import { ReadModel } from './read-model/read-model';
import { TransactionReader } from './transactions/transaction-reader';
import { WalletReader } from './wallets/wallet-reader';
import { WithdrawalStreams } from './withdrawals/stream/withdrawal-streams';
import { WithdrawalReader } from './withdrawals/withdrawal-reader';

export interface QueryApi {
  app: NestFastifyApplication;
  pool: Pool;
  health: Health;
  readModel: ReadModel;
  close(): Promise<void>;
}

/** Wires the query API: database pool, change feed, read-model readers and HTTP, ready to listen. */
export async function buildQueryApi(
  config: QueryApiConfig,
  logger: Logger,
  registry: Registry,
  tracer?: Tracer,
): Promise<QueryApi> {
  const health = new Health();
  // Read before anything starts: a missing key-set file fails start-up, not the first request.
  const auth = authSettingsOf(config);
  const verifier = TokenVerifier.create(auth.verifier);
  const pool = createPool({
    url: config.DATABASE_URL,
    applicationName: 'sluice-query-api',
    max: config.DB_POOL_MAX,
    statementTimeoutMs: config.DB_STATEMENT_TIMEOUT_MS,
    idleInTransactionTimeoutMs: config.DB_IDLE_IN_TRANSACTION_TIMEOUT_MS,
  });
  registerPoolMetrics(pool, registry, 'main');
  health.addReadinessCheck('postgres', async () => void (await pool.query('SELECT 1')));
  const readModel = new ReadModel({
    pool,
    databaseUrl: config.DATABASE_URL,
    topic: routeTopic(config.OUTBOX_TOPIC_PATTERN, walletCatalog.aggregateType),
    logger,
    registry,
    cacheTtlMs: config.QUERY_CACHE_TTL_MS,
    cacheMaxEntries: config.QUERY_CACHE_MAX_ENTRIES,
    maxWaitMs: config.QUERY_MIN_VERSION_WAIT_MS,
    maxWaiters: config.QUERY_MAX_WAITERS,
    freshnessRefreshMs: config.QUERY_FRESHNESS_REFRESH_MS,
    ...(tracer && { tracer }),
  });
  await readModel.start();
  const withdrawals = new WithdrawalReader(readModel);
  const wallets = new WalletReader(readModel);
  const app = await createHttpApp(
    QueryApiModule.with({
      readModel,
      wallets,
      transactions: new TransactionReader(readModel),
      withdrawals,
      withdrawalRetryAfterSec: config.QUERY_WITHDRAWAL_RETRY_AFTER_S,
    }),
    {
      logger,
      registry,
      health,
      ...(tracer && { tracer }),
      accessLog: config.HTTP_ACCESS_LOG,
      serveMetrics: config.METRICS_PORT === undefined,
      frontDoor: { requestBudgetMs: 400, auth: { verifier, realm: auth.realm } },
      connections: {
        maxConnections: config.HTTP_MAX_CONNECTIONS,
        keepAliveTimeoutMs: config.HTTP_KEEP_ALIVE_TIMEOUT_MS,
        headersTimeoutMs: config.HTTP_HEADERS_TIMEOUT_MS,
        // Streams (SSE, WebSocket) are responses, not requests: this bounds only how long a request takes to arrive.
        requestTimeoutMs: config.HTTP_REQUEST_TIMEOUT_MS,
      },
    },
  );
  const streams = new WithdrawalStreams(
    withdrawals,
    wallets,
    { verifier, realm: auth.realm, allowedOrigins: auth.allowedOrigins },
    {
      queueCapacity: config.QUERY_STREAM_QUEUE,
      ratePerSec: config.QUERY_STREAM_RATE_PER_SEC,
      burst: config.QUERY_STREAM_BURST,
      heartbeatMs: config.QUERY_STREAM_HEARTBEAT_MS,
      maxSubscriptions: config.QUERY_STREAM_MAX_SUBSCRIPTIONS,
      maxConnections: config.QUERY_STREAM_MAX_CONNECTIONS,
      maxConnectionsPerPrincipal: config.QUERY_STREAM_MAX_CONNECTIONS_PER_PRINCIPAL,
      notFoundMs: config.QUERY_STREAM_NOT_FOUND_MS,
    },
    logger.child({ component: 'streams' }),
    registry,
  );
  streams.install(app.getHttpAdapter().getInstance(), app.getHttpServer());
  return {
    app,
    pool,
    health,
    readModel,
    close: async () => {
      health.startDraining();
      streams.close();
      await app.close();
      await readModel.stop();
      await pool.end();
    },
  };
}
