import { Module, type DynamicModule } from '@nestjs/common';
import { DepositFundsHttp } from './commands/deposit-funds/deposit-funds.http';
import { OpenWalletHttp } from './commands/open-wallet/open-wallet.http';
import { WalletCommands } from './commands/wallet-commands';

@Module({})
export class CommandApiModule {
  /** The module receives its collaborators ready-made from main.ts. */
  static with(deps: { commands: WalletCommands }): DynamicModule {
    return {
      module: CommandApiModule,
      controllers: [OpenWalletHttp, DepositFundsHttp],
      providers: [{ provide: WalletCommands, useValue: deps.commands }],
    };
  }
}
