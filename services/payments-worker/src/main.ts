import { loadConfig } from '@sluice/config';
import { createLogger, createMetricsRegistry, installShutdown } from '@sluice/observability';
import { buildPaymentsWorker } from './app';
import { paymentsWorkerConfig } from './config';

async function main(): Promise<void> {
  const config = loadConfig(paymentsWorkerConfig);
  const logger = createLogger('payments-worker', config.LOG_LEVEL);
  const worker = await buildPaymentsWorker(config, logger, createMetricsRegistry('payments-worker'));
  installShutdown({
    logger,
    deadlineMs: config.SHUTDOWN_DEADLINE_MS,
    steps: () => [{ name: 'payments-worker', run: () => worker.close() }],
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
