import { Controller, Inject, UseFilters, type Type } from '@nestjs/common';
import { Ctx, EventPattern, Payload } from '@nestjs/microservices';
import { headerText } from '@sluice/messaging';
import { RethrowErrors, RuntimeContext } from '@sluice/messaging-nest';
import { WalletCommandHandler } from './wallet-command-handler';

/**
 * The Kafka side of the wallet: a NestJS event handler on the command topic
 * (the topic is configuration, so the class is made for it), on the
 * consumer runtime's transport. Events, not request-reply: the sender gets
 * no answer on Kafka; it learns the outcome from the wallet's events, and
 * refusals land on the dead-letter topic.
 */
export function walletCommandsConsumer(topic: string): Type<unknown> {
  @Controller()
  @UseFilters(new RethrowErrors())
  class WalletCommandsKafka {
    constructor(@Inject(WalletCommandHandler) private readonly handler: WalletCommandHandler) {}

    @EventPattern(topic)
    async handle(@Payload() value: Buffer | null, @Ctx() ctx: RuntimeContext): Promise<void> {
      // Avro commands carry their issuer and signature in headers.
      const record = ctx.getRecord();
      await this.handler.handle(value, (name) => headerText(record, name));
    }
  }
  return WalletCommandsKafka;
}
