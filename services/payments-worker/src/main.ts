import { loadConfig, tracingSettingsOf } from '@sluice/config';
import { applyMigrations, createPool, ensureDatabase } from '@sluice/db';
import { createLogger, createMetricsRegistry, createTracing, installShutdown, startMetricsServer } from '@sluice/observability';
import { PAYMENTS_MIGRATIONS, buildPaymentsWorker } from './app';
import { paymentsMigrationConfig, paymentsWorkerConfig } from './config';

async function main(): Promise<void> {
  if (process.argv[2] === 'migrate') {
    // `sluice migrate` runs this as the owner role before the services start: the database
    // settings only, not what paying out needs (the signing key, the provider).
    const { DATABASE_URL } = loadConfig(paymentsMigrationConfig);
    await ensureDatabase(DATABASE_URL);
    const pool = createPool({ url: DATABASE_URL, applicationName: 'sluice-migrate-payments-worker', max: 1 });
    await applyMigrations(pool, PAYMENTS_MIGRATIONS).finally(() => pool.end());
    return;
  }
  const config = loadConfig(paymentsWorkerConfig);
  const logger = createLogger('payments-worker', config.LOG_LEVEL);
  const tracing = createTracing('payments-worker', tracingSettingsOf(config));
  const registry = createMetricsRegistry('payments-worker');
  const worker = await buildPaymentsWorker(config, logger, registry, tracing.tracer);
  const metrics = await startMetricsServer({ host: config.HOST, port: config.METRICS_PORT, registry, logger });
  installShutdown({
    logger,
    deadlineMs: config.SHUTDOWN_DEADLINE_MS,
    steps: () => [
      { name: 'payments-worker', run: () => worker.close() },
      { name: 'metrics', run: async () => metrics?.close() },
      { name: 'tracing', run: () => tracing.shutdown() },
    ],
  });
  await worker.start();
  logger.info({ port: config.PORT, psp: config.PSP_URL, commandsTopic: config.WALLET_COMMANDS_TOPIC }, 'payments-worker running');
}

main().catch((err: unknown) => {
  // Logged as JSON so the supervisor's log shows why start-up failed.
  console.error(
    JSON.stringify({
      level: 'fatal',
      service: 'payments-worker',
      msg: 'start-up failed',
      err: String(err),
      stack: (err as Error).stack,
    }),
  );
  process.exit(1);
});
