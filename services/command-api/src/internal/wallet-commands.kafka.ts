import { Controller, Inject, type Type } from '@nestjs/common';
import { Ctx, EventPattern, type KafkaContext } from '@nestjs/microservices';
import { WalletCommandHandler } from './wallet-command-handler';

/**
 * The Kafka side of the wallet: a NestJS event handler on the command topic
 * (the topic is configuration, so the class is made for it). Events, not
 * request-reply: the sender gets no answer on Kafka; it learns the outcome
 * from the wallet's events, and refusals land on the dead-letter topic.
 */
export function walletCommandsConsumer(topic: string): Type<unknown> {
  @Controller()
  class WalletCommandsKafka {
    constructor(@Inject(WalletCommandHandler) private readonly handler: WalletCommandHandler) {}

    @EventPattern(topic)
    async handle(@Ctx() context: KafkaContext): Promise<void> {
      await this.handler.handle({
        topic: context.getTopic(),
        partition: context.getPartition(),
        message: context.getMessage(),
        heartbeat: context.getHeartbeat(),
      });
    }
  }
  return WalletCommandsKafka;
}
