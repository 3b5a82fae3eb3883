import { Controller, Inject, UseFilters, type Type } from '@nestjs/common';
import { EventPattern, Payload, type ClientKafka } from '@nestjs/microservices';
import { lastValueFrom } from 'rxjs';
import { Counter, type Registry } from 'prom-client';
import { SluiceError } from '@sluice/core';
import { activeTraceparent } from '@sluice/observability';
import type { CommandEncoder, DecodedEvent } from '@sluice/messaging';
import { RethrowErrors } from '@sluice/messaging-nest';
import type { WalletCommandMessage, WalletOpened } from '@sluice/schemas';
import { grantCommandId } from './grant-id';

export interface WelcomeBonusOptions {
  commandsTopic: string;
  campaign: string;
  amount: number;
  /** Encodes each command (Avro, the topic's schema) and signs it as its issuer (see @sluice/messaging's command-wire). */
  encode: CommandEncoder;
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

  async onWalletEvent(event: DecodedEvent): Promise<void> {
    if (event.type !== 'WalletOpened' || this.options.amount === 0) return;
    const opened = event.data as WalletOpened;
    const command: WalletCommandMessage = {
      type: 'DepositFunds',
      commandId: grantCommandId(this.options.campaign, opened.walletId),
      walletId: opened.walletId,
      amount: this.options.amount,
      currency: opened.currency,
      issuedBy: `bonus-service/${this.options.campaign}`,
    };
    // The event's trace goes on with the command: the command API's handling joins it.
    const traceparent = activeTraceparent();
    const { value, headers } = this.options.encode(command);
    try {
      await lastValueFrom(
        this.client.emit(this.options.commandsTopic, {
          key: opened.walletId,
          value,
          headers: { ...headers, ...(traceparent !== undefined && { traceparent }) },
        }),
      );
    } catch (cause) {
      // Kafka did not take the command: waited out (never dead-lettered), the event is not to blame.
      throw new SluiceError('broker_unavailable', `sending the grant for ${opened.walletId} failed`, { cause, retriable: true });
    }
    this.granted?.inc({ campaign: this.options.campaign });
  }
}

/** The NestJS event handler on the wallet event topic (the topic is configuration, so the class is made for it). */
export function welcomeBonusConsumer(eventsTopic: string): Type<unknown> {
  @Controller()
  @UseFilters(new RethrowErrors())
  class WelcomeBonusKafka {
    constructor(@Inject(WelcomeBonus) private readonly bonus: WelcomeBonus) {}

    @EventPattern(eventsTopic)
    async handle(@Payload() event: DecodedEvent): Promise<void> {
      await this.bonus.onWalletEvent(event);
    }
  }
  return WelcomeBonusKafka;
}
