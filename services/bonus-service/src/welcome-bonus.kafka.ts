import { Controller, Inject, type Type } from '@nestjs/common';
import { Ctx, EventPattern, Payload, type ClientKafka, type KafkaContext } from '@nestjs/microservices';
import { lastValueFrom } from 'rxjs';
import { Counter, type Registry } from 'prom-client';
import type { Logger } from '@sluice/observability';
import type { WalletOpened } from '@sluice/schemas';
import type { WalletEventPacket } from './avro-event-deserializer';
import { grantCommandId } from './grant-id';

export interface WelcomeBonusOptions {
  commandsTopic: string;
  campaign: string;
  amount: number;
}

/**
 * Grants the welcome bonus: on each WalletOpened it sends the wallet a
 * DepositFunds command, keyed by wallet, with a command id derived from
 * campaign and wallet. It resolves only after Kafka acknowledged the command,
 * so the event's offset is committed only then; a crash in between sends the
 * same command again, which the wallet's inbox ignores.
 */
export class WelcomeBonus {
  private readonly granted?: Counter<'campaign'>;

  constructor(
    private readonly client: ClientKafka,
    private readonly options: WelcomeBonusOptions,
    private readonly logger: Logger,
    registry?: Registry,
  ) {
    if (registry) {
      this.granted = new Counter({
        name: 'sluice_bonus_grants_sent_total',
        help: 'Welcome-bonus commands sent (repeats after a redelivery included)',
        labelNames: ['campaign'],
        registers: [registry],
      });
    }
  }

  async onWalletEvent(packet: WalletEventPacket, where: string): Promise<void> {
    if (packet.kind === 'undecodable') {
      this.logger.warn({ where, reason: packet.reason }, 'skipping a record that does not decode');
      return;
    }
    if (packet.type !== 'WalletOpened' || this.options.amount === 0) return;
    const opened = packet.data as WalletOpened;
    const command = {
      type: 'DepositFunds',
      commandId: grantCommandId(this.options.campaign, opened.walletId),
      walletId: opened.walletId,
      amount: this.options.amount,
      currency: opened.currency,
      issuedBy: `bonus-service/${this.options.campaign}`,
    };
    await lastValueFrom(this.client.emit(this.options.commandsTopic, { key: opened.walletId, value: JSON.stringify(command) }));
    this.granted?.inc({ campaign: this.options.campaign });
  }
}

/** The NestJS event handler on the wallet event topic (the topic is configuration, so the class is made for it). */
export function welcomeBonusConsumer(eventsTopic: string): Type<unknown> {
  @Controller()
  class WelcomeBonusKafka {
    constructor(@Inject(WelcomeBonus) private readonly bonus: WelcomeBonus) {}

    @EventPattern(eventsTopic)
    async handle(@Payload() packet: WalletEventPacket, @Ctx() context: KafkaContext): Promise<void> {
      await this.bonus.onWalletEvent(packet, `${context.getTopic()}/${context.getPartition()}@${context.getMessage().offset}`);
    }
  }
  return WelcomeBonusKafka;
}
