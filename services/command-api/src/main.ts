import 'reflect-metadata';
import { loadConfig, tracingSettingsOf } from '@sluice/config';
import { createLogger, createMetricsRegistry, createTracing, installShutdown, startMetricsServer } from '@sluice/observability';
import { createPool, ensureDatabase } from '@sluice/db';
import { buildCommandApi, migrateCommandApi } from './app';
import { commandApiConfig, commandApiSettings } from './config';

async function main(): Promise<void> {
  const migrating = process.argv[2] === 'migrate';
  // The migrate step needs the database and outbox settings only, not what serving requests needs.
  const config = loadConfig(migrating ? commandApiSettings : commandApiConfig);
  if (migrating) {
    // `sluice migrate` runs this as the owner role before the services start.
    await ensureDatabase(config.DATABASE_URL);
    const pool = createPool({ url: config.DATABASE_URL, applicationName: 'sluice-migrate-command-api', max: 2 });
    await migrateCommandApi(config, pool).finally(() => pool.end());
    return;
  }
  const logger = createLogger('command-api', config.LOG_LEVEL);
  const tracing = createTracing('command-api', tracingSettingsOf(config));
  const registry = createMetricsRegistry('command-api');
  const api = await buildCommandApi(config, logger, registry, tracing.tracer);
  const metrics = await startMetricsServer({ host: config.HOST, port: config.METRICS_PORT, registry, logger });
  installShutdown({
    logger,
    deadlineMs: config.SHUTDOWN_DEADLINE_MS,
    steps: () => [
      { name: 'command-api', run: () => api.close() },
      { name: 'metrics', run: async () => metrics?.close() },
      { name: 'tracing', run: () => tracing.shutdown() },
    ],
  });
  await api.startInternalCommands();
  await api.app.listen(config.PORT, config.HOST);
  logger.info({ port: config.PORT, host: config.HOST }, 'command-api listening');
}

main().catch((err: unknown) => {
  // Logged as JSON so the supervisor's log shows why start-up failed.
  console.error(
    JSON.stringify({
      level: 'fatal',
      service: 'command-api',
      msg: 'start-up failed',
      err: String(err),
      stack: (err as Error).stack,
    }),
  );
  process.exit(1);
});
