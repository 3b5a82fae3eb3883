import { Module, type DynamicModule } from '@nestjs/common';
import { WelcomeBonus, welcomeBonusConsumer } from './welcome-bonus.kafka';

@Module({})
export class BonusServiceModule {
  /** The module receives its collaborators ready-made from app.ts. */
  static with(deps: { bonus: WelcomeBonus; eventsTopic: string }): DynamicModule {
    return {
      module: BonusServiceModule,
      controllers: [welcomeBonusConsumer(deps.eventsTopic)],
      providers: [{ provide: WelcomeBonus, useValue: deps.bonus }],
    };
  }
}
