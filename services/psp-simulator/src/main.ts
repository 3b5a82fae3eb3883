import { loadConfig } from '@sluice/config';
import { createLogger, createMetricsRegistry, Health, installShutdown, startMetricsServer } from '@sluice/observability';
import { Counter, Gauge } from 'prom-client';
import { pspSimulatorConfig } from './config';
import type { Faults } from './faults';
import { Provider } from './provider';
import { createSimulatorServer } from './server';
import { WebhookSender } from './webhooks';

async function main(): Promise<void> {
  const config = loadConfig(pspSimulatorConfig);
  const logger = createLogger('psp-simulator', config.LOG_LEVEL);
  const registry = createMetricsRegistry('psp-simulator');
  const health = new Health();
  let faults: Faults = {
    latencyMs: config.PSP_LATENCY_MS,
    errorRate: config.PSP_ERROR_RATE,
    down: config.PSP_DOWN,
    declineRate: config.PSP_DECLINE_RATE,
    webhookDuplicateRate: config.PSP_WEBHOOK_DUPLICATE_RATE,
    webhookReorderRate: config.PSP_WEBHOOK_REORDER_RATE,
    webhookDelayMs: config.PSP_WEBHOOK_DELAY_MS,
    refuseStatus: 0,
    refuseCode: 'refused',
    refuseRoute: 'all',
    keyInUseConflict: false,
    webhooksHeld: false,
  };
  const webhooks = new WebhookSender({
    url: config.PSP_WEBHOOK_URL,
    secret: config.PSP_WEBHOOK_SECRET,
    retryMaxMs: config.PSP_WEBHOOK_RETRY_MAX_MS,
    maxAttempts: config.PSP_WEBHOOK_MAX_ATTEMPTS,
    faults: () => faults,
    logger,
    delivered: new Counter({
      name: 'psp_webhook_deliveries_total',
      help: 'Webhook delivery attempts by event type and result (ok, duplicate, retry)',
      labelNames: ['type', 'result'],
      registers: [registry],
    }),
  });
  new Gauge({
    name: 'psp_webhooks_in_flight',
    help: 'Webhooks waiting to be delivered (delayed, retrying, or held while down)',
    registers: [registry],
    collect() {
      this.set(webhooks.inFlight);
    },
  });
  const provider = new Provider(config.PSP_SETTLE_MS, () => faults, webhooks, registry);
  const server = createSimulatorServer({
    provider,
    faults: { get: () => faults, set: (next) => (faults = next) },
    health,
    registry,
    serveMetrics: config.METRICS_PORT === undefined,
    logger,
  });
  const metrics = await startMetricsServer({ host: config.HOST, port: config.METRICS_PORT, registry, logger });
  installShutdown({
    logger,
    deadlineMs: config.SHUTDOWN_DEADLINE_MS,
    steps: () => [
      { name: 'webhooks', run: async () => webhooks.stop() },
      {
        name: 'http',
        run: () =>
          new Promise<void>((resolve) => {
            server.close(() => resolve());
            server.closeAllConnections();
          }),
      },
      { name: 'metrics', run: async () => metrics?.close() },
    ],
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.PORT, config.HOST, () => resolve());
  });
  logger.info({ port: config.PORT, webhookUrl: config.PSP_WEBHOOK_URL, faults }, 'psp-simulator listening');
}

main().catch((err: unknown) => {
  // Logged as JSON so the supervisor's log shows why start-up failed.
  console.error(
    JSON.stringify({
      level: 'fatal',
      service: 'psp-simulator',
      msg: 'start-up failed',
      err: String(err),
      stack: (err as Error).stack,
    }),
  );
  process.exit(1);
});
