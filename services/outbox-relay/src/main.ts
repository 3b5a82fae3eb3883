import { loadConfig, tracingSettingsOf } from '@sluice/config';
import { applyMigrations, createPool, ensureDatabase } from '@sluice/db';
import {
  createLogger,
  createMetricsRegistry,
  createTracing,
  installShutdown,
  startMetricsServer,
  startOpsServer,
} from '@sluice/observability';
import { RELAY_MIGRATIONS, buildRelay } from './app';
import { relayConfig } from './config';

async function main(): Promise<void> {
  const config = loadConfig(relayConfig);
  if (process.argv[2] === 'migrate') {
    // `sluice migrate` runs this as the owner role before the services start.
    await ensureDatabase(config.DATABASE_URL);
    const pool = createPool({ url: config.DATABASE_URL, applicationName: 'sluice-migrate-outbox-relay', max: 1 });
    await applyMigrations(pool, RELAY_MIGRATIONS).finally(() => pool.end());
    return;
  }
  const logger = createLogger('outbox-relay', config.LOG_LEVEL);
  const registry = createMetricsRegistry('outbox-relay');
  const tracing = createTracing('outbox-relay', tracingSettingsOf(config));
  const app = await buildRelay(config, logger, registry, {}, tracing.tracer);
  // With METRICS_PORT, PORT serves health only and /metrics has its own listener.
  const ops = await startOpsServer({
    host: config.HOST,
    port: config.PORT,
    health: app.health,
    registry: config.METRICS_PORT === undefined ? registry : undefined,
    logger,
  });
  const metrics = await startMetricsServer({ host: config.HOST, port: config.METRICS_PORT, registry, logger });
  const shutdown = installShutdown({
    logger,
    deadlineMs: config.SHUTDOWN_DEADLINE_MS,
    steps: () => [
      { name: 'relay', run: () => app.close() },
      { name: 'ops', run: () => ops.close() },
      { name: 'metrics', run: async () => metrics?.close() },
      { name: 'tracing', run: () => tracing.shutdown() },
    ],
  });
  app.run().then(
    () => undefined,
    (err: unknown) => {
      // Unrecoverable (e.g. a slot of another plugin): exit non-zero so the supervisor restarts
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
