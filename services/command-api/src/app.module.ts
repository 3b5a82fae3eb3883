import { Module, type DynamicModule, type Type } from '@nestjs/common';
import { DepositFundsHttp } from './commands/deposit-funds/deposit-funds.http';
import { OpenWalletHttp } from './commands/open-wallet/open-wallet.http';
import { RequestWithdrawalHttp, WITHDRAWAL_POLL_AFTER_SEC } from './commands/request-withdrawal/request-withdrawal.http';
import { WalletCommands } from './commands/wallet-commands';
import { WalletCommandHandler } from './internal/wallet-command-handler';
import { walletCommandsConsumer } from './internal/wallet-commands.kafka';
import { GetWithdrawalHttp } from './withdrawals/get-withdrawal.http';
import { WithdrawalStatusReader } from './withdrawals/withdrawal-status';

@Module({})
export class CommandApiModule {
  /** The module receives its collaborators ready-made from app.ts. */
  static with(deps: {
    commands: WalletCommands;
    withdrawals: WithdrawalStatusReader;
    pollAfterSec: number;
    internal?: { handler: WalletCommandHandler; topic: string };
  }): DynamicModule {
    const controllers: Type<unknown>[] = [OpenWalletHttp, DepositFundsHttp, RequestWithdrawalHttp, GetWithdrawalHttp];
    if (deps.internal) controllers.push(walletCommandsConsumer(deps.internal.topic));
    return {
      module: CommandApiModule,
      controllers,
      providers: [
        { provide: WalletCommands, useValue: deps.commands },
        { provide: WithdrawalStatusReader, useValue: deps.withdrawals },
        { provide: WITHDRAWAL_POLL_AFTER_SEC, useValue: deps.pollAfterSec },
        ...(deps.internal ? [{ provide: WalletCommandHandler, useValue: deps.internal.handler }] : []),
      ],
    };
  }
}
