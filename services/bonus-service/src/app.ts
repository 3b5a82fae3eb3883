import { ClientKafka } from '@nestjs/microservices';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { Partitioners } from 'kafkajs';
import { createHttpApp } from '@sluice/http';
import {
  consumerSettingsFrom,
  AvroEventCodec,
  connectCommandEncoder,
  ConsumerMetrics,
  consumerPipeline,
  createIdempotentProducer,
  createKafka,
  kafkajsSecurity,
  kafkaSecurityFrom,
  deadLetterTopic,
  ensureTopics,
  KafkaPublisher,
  KafkaSubscriber,
  readSigningKey,
  routeTopic,
} from '@sluice/messaging';
import { RuntimeTransport } from '@sluice/messaging-nest';
import { Health, type Logger, type Registry, type Tracer } from '@sluice/observability';
import { walletCatalog, walletCommandsCatalog } from '@sluice/schemas';
import { BonusServiceModule } from './app.module';
import type { BonusServiceConfig } from './config';
import { WelcomeBonus } from './welcome-bonus.kafka';

export interface BonusService {
  app: NestFastifyApplication;
  health: Health;
  eventsTopic: string;
  deadLetterTopic: string;
  /** Starts consuming wallet events. */
  start(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Wires the bonus service: a NestJS handler of the wallet events on the
 * consumer runtime's transport (WalletOpened only, filtered by type before
 * decoding; what cannot be handled goes to the dead-letter topic), and a
 * producer-only NestJS Kafka client for the wallet commands, its '-client'
 * suffix switched off (postfixId '') so it joins no group.
 */
export async function buildBonusService(
  config: BonusServiceConfig,
  logger: Logger,
  registry: Registry,
  tracer?: Tracer,
): Promise<BonusService> {
  const health = new Health();
  const eventsTopic = routeTopic(config.OUTBOX_TOPIC_PATTERN, walletCatalog.aggregateType);
  const dlqTopic = config.BONUS_DLQ_TOPIC ?? deadLetterTopic(config.BONUS_GROUP_ID);
  const security = kafkaSecurityFrom(config);
  const kafka = createKafka({ brokers: config.KAFKA_BROKERS, security, clientId: config.BONUS_GROUP_ID, logger });
  await ensureTopics(kafka, [{ topic: dlqTopic, partitions: 1, retainForever: true }]);
  const dlqProducer = createIdempotentProducer(kafka);
  await dlqProducer.connect();
  const client = new ClientKafka({
    postfixId: '',
    producerOnlyMode: true,
    client: {
      clientId: config.BONUS_GROUP_ID,
      brokers: config.KAFKA_BROKERS,
      connectionTimeout: 3_000,
      ...kafkajsSecurity(security),
    },
    producer: {
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
      createPartitioner: Partitioners.DefaultPartitioner,
    },
    send: { acks: -1 },
  });
  let producerStatus = 'disconnected';
  client.status.subscribe((status) => (producerStatus = status));
  await client.connect();
  health.addReadinessCheck('kafka-producer', async () => {
    if (producerStatus !== 'connected') throw new Error(`the command producer is ${producerStatus}`);
  });
  const bonus = new WelcomeBonus(
    client,
    {
      commandsTopic: config.WALLET_COMMANDS_TOPIC,
      campaign: config.WELCOME_BONUS_CAMPAIGN,
      amount: config.WELCOME_BONUS_AMOUNT,
      encode: await connectCommandEncoder({
        registryUrl: config.SCHEMA_REGISTRY_URL,
        catalog: walletCommandsCatalog,
        topic: config.WALLET_COMMANDS_TOPIC,
        issuer: config.COMMAND_ISSUER,
        key: config.COMMAND_SIGNING_KEY_FILE ? readSigningKey(config.COMMAND_SIGNING_KEY_FILE) : undefined,
        register: config.SCHEMA_AUTO_REGISTER,
      }),
    },
    registry,
  );
  const app = await createHttpApp(BonusServiceModule.with({ bonus, eventsTopic }), {
    logger,
    registry,
    health,
    serveMetrics: config.METRICS_PORT === undefined,
    ...(tracer && { tracer }),
  });
  const codec = AvroEventCodec.connect(config.SCHEMA_REGISTRY_URL, [walletCatalog], config.OUTBOX_TOPIC_PATTERN);
  const metrics = ConsumerMetrics.for(registry);
  const consumerLogger = logger.child({ component: 'welcome-bonus' });
  const transport = new RuntimeTransport({
    subscriber: (topics) =>
      new KafkaSubscriber({
        kafka,
        groupId: config.BONUS_GROUP_ID,
        topics,
        fromBeginning: config.BONUS_FROM_BEGINNING,
        ...consumerSettingsFrom(config),
        logger: consumerLogger,
        metrics,
      }),
    pipeline: (dispatch) =>
      consumerPipeline(dispatch, {
        group: config.BONUS_GROUP_ID,
        metrics,
        types: ['WalletOpened'],
        codec,
        retry: {
          maxAttempts: config.CONSUMER_RETRY_ATTEMPTS,
          baseMs: config.CONSUMER_RETRY_BASE_MS,
          maxMs: config.CONSUMER_RETRY_MAX_MS,
        },
        deadLetters: { publisher: new KafkaPublisher(dlqProducer), topic: dlqTopic },
        onParked: (record, code, reason) =>
          consumerLogger.error(
            { topic: record.topic, partition: record.partition, offset: record.offset, code, reason },
            'wallet event dead-lettered',
          ),
        ...(tracer && { tracer }),
      }),
  });
  return {
    app,
    health,
    eventsTopic,
    deadLetterTopic: dlqTopic,
    start: async () => {
      app.connectMicroservice({ strategy: transport }, { inheritAppConfig: true });
      await app.startAllMicroservices();
    },
    close: async () => {
      health.startDraining();
      await app.close();
      await client.close();
      await dlqProducer.disconnect();
    },
  };
}
