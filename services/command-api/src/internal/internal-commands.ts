import type { INestApplication } from '@nestjs/common';
import { Transport, type KafkaOptions } from '@nestjs/microservices';
import { createIdempotentProducer, createKafka, ensureTopics } from '@sluice/messaging';
import type { Logger } from '@sluice/observability';
import { Partitioners, type Producer } from 'kafkajs';
import type { CommandApiConfig } from '../config';

/**
 * The Kafka transport options of the internal command consumer. NestJS adds
 * '-server' to a server's clientId and groupId (and '-client' to a client's)
 * unless postfixId says otherwise: it is set to '' so the group in Kafka is
 * exactly WALLET_COMMANDS_GROUP_ID, which is what operators look for, alert
 * on and reset offsets of.
 */
export function internalCommandsTransport(config: CommandApiConfig): KafkaOptions {
  return {
    transport: Transport.KAFKA,
    options: {
      postfixId: '',
      client: {
        clientId: config.WALLET_COMMANDS_GROUP_ID,
        brokers: config.KAFKA_BROKERS,
        connectionTimeout: 3_000,
        retry: { initialRetryTime: 100, retries: 8, maxRetryTime: 5_000 },
      },
      consumer: {
        groupId: config.WALLET_COMMANDS_GROUP_ID,
        allowAutoTopicCreation: false,
        sessionTimeout: 30_000,
        heartbeatInterval: 3_000,
      },
      // Nest's reply producer; commands are events here, so it sends nothing.
      producer: { createPartitioner: Partitioners.DefaultPartitioner, allowAutoTopicCreation: false },
      subscribe: { fromBeginning: true },
      // One command at a time per partition keeps a wallet's commands in order; partitions run side by side.
      run: { partitionsConsumedConcurrently: 4 },
      // The handler reads the raw bytes itself (and dead-letters them unchanged).
      parser: { keepBinary: true },
      producerOnlyMode: false,
    },
  };
}

/** The command topic and its dead-letter topic, created when missing (auto topic creation is off). */
export async function ensureCommandTopics(config: CommandApiConfig, logger: Logger): Promise<void> {
  const kafka = createKafka({ brokers: config.KAFKA_BROKERS, clientId: 'sluice-command-api-admin', logger });
  const created = await ensureTopics(kafka, [
    { topic: config.WALLET_COMMANDS_TOPIC, partitions: config.WALLET_COMMANDS_PARTITIONS },
    { topic: config.WALLET_COMMANDS_DLQ_TOPIC, partitions: 1, retainForever: true },
  ]);
  if (created.length > 0) logger.info({ topics: created }, 'command topics created');
}

export async function connectDeadLetterProducer(config: CommandApiConfig, logger: Logger): Promise<Producer> {
  const kafka = createKafka({ brokers: config.KAFKA_BROKERS, clientId: 'sluice-command-api-dlq', logger });
  const producer = createIdempotentProducer(kafka);
  await producer.connect();
  return producer;
}

export async function startInternalCommands(app: INestApplication, config: CommandApiConfig): Promise<void> {
  app.connectMicroservice(internalCommandsTransport(config), { inheritAppConfig: true });
  await app.startAllMicroservices();
}
