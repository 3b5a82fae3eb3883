import 'reflect-metadata';
import { loadConfig, tracingSettingsOf } from '@sluice/config';
import { createLogger, createMetricsRegistry, createTracing, installShutdown, startMetricsServer } from '@sluice/observability';
import { buildBonusService } from './app';
import { bonusServiceConfig } from './config';

async function main(): Promise<void> {
  const config = loadConfig(bonusServiceConfig);
  const logger = createLogger('bonus-service', config.LOG_LEVEL);
  const tracing = createTracing('bonus-service', tracingSettingsOf(config));
  const registry = createMetricsRegistry('bonus-service');
  const service = await buildBonusService(config, logger, registry, tracing.tracer);
  const metrics = await startMetricsServer({ host: config.HOST, port: config.METRICS_PORT, registry, logger });
  installShutdown({
    logger,
    deadlineMs: config.SHUTDOWN_DEADLINE_MS,
    steps: () => [
      { name: 'bonus-service', run: () => service.close() },
      { name: 'metrics', run: async () => metrics?.close() },
      { name: 'tracing', run: () => tracing.shutdown() },
    ],
  });
  await service.start();
  await service.app.listen(config.PORT, config.HOST);
  logger.info(
    { port: config.PORT, eventsTopic: service.eventsTopic, commandsTopic: config.WALLET_COMMANDS_TOPIC },
    'bonus-service running',
  );
}

main().catch((err: unknown) => {
  // Logged as JSON so the supervisor's log shows why start-up failed.
  console.error(
    JSON.stringify({
      level: 'fatal',
      service: 'bonus-service',
      msg: 'start-up failed',
      err: String(err),
      stack: (err as Error).stack,
    }),
  );
  process.exit(1);
});
