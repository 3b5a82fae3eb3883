import { ClientKafka, Transport, type KafkaOptions } from '@nestjs/microservices';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { Partitioners } from 'kafkajs';
import { createHttpApp } from '@sluice/http';
import { AvroEventCodec, routeTopic } from '@sluice/messaging';
import { Health, type Logger, type Registry } from '@sluice/observability';
import { walletCatalog } from '@sluice/schemas';
import { BonusServiceModule } from './app.module';
import { AvroEventDeserializer } from './avro-event-deserializer';
import type { BonusServiceConfig } from './config';
import { WelcomeBonus } from './welcome-bonus.kafka';

export interface BonusService {
  app: NestFastifyApplication;
  health: Health;
  eventsTopic: string;
  /** Starts consuming wallet events. */
  start(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Wires the bonus service: a NestJS Kafka consumer of the wallet events and a
 * producer-only NestJS Kafka client for the wallet commands. Both have their
 * '-server' / '-client' suffixes switched off (postfixId ''): the consumer
 * group is exactly BONUS_GROUP_ID, and the producer joins no group at all.
 */
export async function buildBonusService(config: BonusServiceConfig, logger: Logger, registry: Registry): Promise<BonusService> {
  const health = new Health();
  const eventsTopic = routeTopic(config.OUTBOX_TOPIC_PATTERN, walletCatalog.aggregateType);
  const client = new ClientKafka({
    postfixId: '',
    producerOnlyMode: true,
    client: { clientId: config.BONUS_GROUP_ID, brokers: config.KAFKA_BROKERS, connectionTimeout: 3_000 },
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
    { commandsTopic: config.WALLET_COMMANDS_TOPIC, campaign: config.WELCOME_BONUS_CAMPAIGN, amount: config.WELCOME_BONUS_AMOUNT },
    logger.child({ component: 'welcome-bonus' }),
    registry,
  );
  const app = await createHttpApp(BonusServiceModule.with({ bonus, eventsTopic }), { logger, registry, health });
  const codec = AvroEventCodec.connect(config.SCHEMA_REGISTRY_URL, [walletCatalog], config.OUTBOX_TOPIC_PATTERN);
  const transport: KafkaOptions = {
    transport: Transport.KAFKA,
    options: {
      postfixId: '',
      client: { clientId: config.BONUS_GROUP_ID, brokers: config.KAFKA_BROKERS, connectionTimeout: 3_000 },
      consumer: { groupId: config.BONUS_GROUP_ID, allowAutoTopicCreation: false },
      producer: { createPartitioner: Partitioners.DefaultPartitioner, allowAutoTopicCreation: false },
      subscribe: { fromBeginning: config.BONUS_FROM_BEGINNING },
      run: { partitionsConsumedConcurrently: 4 },
      deserializer: new AvroEventDeserializer(codec),
    },
  };
  return {
    app,
    health,
    eventsTopic,
    start: async () => {
      app.connectMicroservice(transport, { inheritAppConfig: true });
      await app.startAllMicroservices();
    },
    close: async () => {
      health.startDraining();
      await app.close();
      await client.close();
    },
  };
}
