import 'reflect-metadata';
import { loadConfig, tracingSettingsOf } from '@sluice/config';
import { createLogger, createMetricsRegistry, createTracing, installShutdown, startMetricsServer } from '@sluice/observability';
import { buildQueryApi } from './app';
import { queryApiConfig } from './config';

async function main(): Promise<void> {
  const config = loadConfig(queryApiConfig);
  const logger = createLogger('query-api', config.LOG_LEVEL);
  const tracing = createTracing('query-api', tracingSettingsOf(config));
  const registry = createMetricsRegistry('query-api');
  const api = await buildQueryApi(config, logger, registry, tracing.tracer);
  const metrics = await startMetricsServer({ host: config.HOST, port: config.METRICS_PORT, registry, logger });
  installShutdown({
    logger,
    deadlineMs: config.SHUTDOWN_DEADLINE_MS,
    steps: () => [
      { name: 'query-api', run: () => api.close() },
      { name: 'metrics', run: async () => metrics?.close() },
      { name: 'tracing', run: () => tracing.shutdown() },
    ],
  });
  await api.app.listen(config.PORT, config.HOST);
  logger.info({ port: config.PORT, host: config.HOST }, 'query-api listening');
}

main().catch((err: unknown) => {
  // Logged as JSON so the supervisor's log shows why start-up failed.
  console.error(
    JSON.stringify({
      level: 'fatal',
      service: 'query-api',
      msg: 'start-up failed',
      err: String(err),
      stack: (err as Error).stack,
    }),
  );
  process.exit(1);
});
