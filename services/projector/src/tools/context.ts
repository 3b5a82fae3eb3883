import type { Admin, Kafka } from 'kafkajs';
import { createPool, type Pool } from '@sluice/db';
import { AvroEventCodec, createKafka, kafkaSecurityFrom, routeTopic } from '@sluice/messaging';
import { createLogger, createMetricsRegistry, type Logger } from '@sluice/observability';
import { walletCatalog } from '@sluice/schemas';
import { ProjectorMetrics } from '../engine/metrics';
import type { ToolsConfig } from './config';

/** What every tool command needs, opened once and closed by the caller. */
export interface ToolContext {
  readonly config: ToolsConfig;
  readonly pool: Pool;
  readonly kafka: Kafka;
  readonly admin: Admin;
  readonly codec: AvroEventCodec;
  readonly logger: Logger;
  readonly metrics: ProjectorMetrics;
  /** The wallet topic, which every projection of this build reads. */
  readonly topic: string;
  /** Lines for people on stdout (kept apart so tests can capture them). */
  readonly print: (line: string) => void;
  close(): Promise<void>;
}

export async function openToolContext(
  config: ToolsConfig,
  print: (line: string) => void = (l) => void process.stdout.write(`${l}\n`),
): Promise<ToolContext> {
  const logger = createLogger('sluice-projector-tools', config.LOG_LEVEL);
  const pool = createPool({
    url: config.DATABASE_URL,
    applicationName: 'sluice-projector-tools',
    max: config.DB_POOL_MAX,
    statementTimeoutMs: config.DB_STATEMENT_TIMEOUT_MS,
    idleInTransactionTimeoutMs: config.DB_IDLE_IN_TRANSACTION_TIMEOUT_MS,
  });
  const kafka = createKafka({
    brokers: config.KAFKA_BROKERS,
    security: kafkaSecurityFrom(config),
    clientId: 'sluice-projector-tools',
    logger,
  });
  const admin = kafka.admin();
  await admin.connect();
  return {
    config,
    pool,
    kafka,
    admin,
    codec: AvroEventCodec.connect(config.SCHEMA_REGISTRY_URL, [walletCatalog], config.OUTBOX_TOPIC_PATTERN),
    logger,
    metrics: new ProjectorMetrics(createMetricsRegistry('sluice-projector-tools', false)),
    topic: routeTopic(config.OUTBOX_TOPIC_PATTERN, walletCatalog.aggregateType),
    print,
    close: async () => {
      await admin.disconnect();
      await pool.end();
    },
  };
}
