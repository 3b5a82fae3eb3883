import type { INestApplication } from '@nestjs/common';
import type { Kafka, Producer } from 'kafkajs';
import type { Registry } from 'prom-client';
import {
  consumerSettingsFrom,
  ConsumerMetrics,
  consumerPipeline,
  createIdempotentProducer,
  createKafka,
  kafkaSecurityFrom,
  ensureTopics,
  KafkaPublisher,
  KafkaSubscriber,
  topicRetentionMs,
} from '@sluice/messaging';
import { ConfigError } from '@sluice/config';
import { RuntimeTransport } from '@sluice/messaging-nest';
import type { Logger, Tracer } from '@sluice/observability';
import { inboxOutlastsCommands, type CommandApiConfig } from '../config';

/**
 * The internal command consumer's transport: the consumer runtime under
 * NestJS. One command at a time per partition keeps a wallet's commands in
 * order; partitions run side by side. Raw values (JSON): the handler parses
 * them, and a dead letter carries them unchanged. The group in Kafka is
 * exactly WALLET_COMMANDS_GROUP_ID, which is what operators look for, alert
 * on and reset offsets of.
 */
export function internalCommandsTransport(
  config: CommandApiConfig,
  kafka: Kafka,
  producer: Producer,
  logger: Logger,
  registry: Registry,
  tracer?: Tracer,
): RuntimeTransport {
  const metrics = ConsumerMetrics.for(registry);
  const group = config.WALLET_COMMANDS_GROUP_ID;
  return new RuntimeTransport({
    subscriber: (topics) =>
      new KafkaSubscriber({
        kafka,
        groupId: group,
        topics,
        fromBeginning: true,
        ...consumerSettingsFrom(config),
        logger,
        metrics,
      }),
    pipeline: (dispatch) =>
      consumerPipeline(dispatch, {
        group,
        metrics,
        retry: {
          maxAttempts: config.WALLET_COMMANDS_MAX_ATTEMPTS,
          baseMs: config.CONSUMER_RETRY_BASE_MS,
          maxMs: config.CONSUMER_RETRY_MAX_MS,
        },
        deadLetters: { publisher: new KafkaPublisher(producer), topic: config.WALLET_COMMANDS_DLQ_TOPIC },
        onParked: (record, code, reason) =>
          logger.warn({ code, reason, topic: record.topic, offset: record.offset }, 'internal command dead-lettered'),
        onRetry: (err, attempt) => logger.warn({ err, attempt }, 'internal command failed; retrying'),
        ...(tracer && { tracer }),
      }),
  });
}

/** The command topic and its dead-letter topic, created when missing (auto topic creation is off). */
export async function ensureCommandTopics(config: CommandApiConfig, logger: Logger): Promise<void> {
  const kafka = createKafka({
    brokers: config.KAFKA_BROKERS,
    security: kafkaSecurityFrom(config),
    clientId: 'sluice-command-api-admin',
    logger,
  });
  const created = await ensureTopics(kafka, [
    {
      topic: config.WALLET_COMMANDS_TOPIC,
      partitions: config.WALLET_COMMANDS_PARTITIONS,
      // Explicit, not the broker's default: the inbox's retention is checked against it.
      config: { 'retention.ms': String(config.WALLET_COMMANDS_RETENTION_HOURS * 3_600_000) },
    },
    { topic: config.WALLET_COMMANDS_DLQ_TOPIC, partitions: 1, retainForever: true },
  ]);
  if (created.length > 0) logger.info({ topics: created }, 'command topics created');
}

/**
 * The inbox rule against the command topic as the broker has it (the topic
 * may predate this configuration, or an operator may have changed it):
 * refuses to start when the inbox's rows could be purged while a copy of
 * their command can still be delivered.
 */
export async function checkCommandTopicRetention(config: CommandApiConfig, kafka: Kafka): Promise<number> {
  const retentionMs = await topicRetentionMs(kafka, config.WALLET_COMMANDS_TOPIC);
  const problem =
    retentionMs < 0
      ? `the command topic ${config.WALLET_COMMANDS_TOPIC} keeps its records for ever (retention.ms=-1): no inbox window outlasts it; give it a retention.ms`
      : inboxOutlastsCommands({ ...config, topicRetentionHours: retentionMs / 3_600_000 });
  if (problem) throw new ConfigError([`${config.WALLET_COMMANDS_TOPIC} on the broker: ${problem}`]);
  return retentionMs;
}

export async function connectDeadLetterProducer(kafka: Kafka): Promise<Producer> {
  const producer = createIdempotentProducer(kafka);
  await producer.connect();
  return producer;
}

export async function startInternalCommands(app: INestApplication, transport: RuntimeTransport): Promise<void> {
  app.connectMicroservice({ strategy: transport }, { inheritAppConfig: true });
  await app.startAllMicroservices();
}
