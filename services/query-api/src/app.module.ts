import { Module, type DynamicModule } from '@nestjs/common';
import { ReadModel } from './read-model/read-model';
import { ListTransactionsHttp } from './transactions/list-transactions.http';
import { TransactionReader } from './transactions/transaction-reader';
import { GetWalletHttp } from './wallets/get-wallet.http';
import { WalletReader } from './wallets/wallet-reader';
import { GetWithdrawalHttp, WITHDRAWAL_RETRY_AFTER } from './withdrawals/get-withdrawal.http';
import { WithdrawalReader } from './withdrawals/withdrawal-reader';

export interface QueryApiDeps {
  readModel: ReadModel;
  wallets: WalletReader;
  transactions: TransactionReader;
  withdrawals: WithdrawalReader;
  withdrawalRetryAfterSec: number;
}

@Module({})
export class QueryApiModule {
  /** The module receives its collaborators ready-made from app.ts. */
  static with(deps: QueryApiDeps): DynamicModule {
    return {
      module: QueryApiModule,
      controllers: [GetWalletHttp, ListTransactionsHttp, GetWithdrawalHttp],
      providers: [
        { provide: ReadModel, useValue: deps.readModel },
        { provide: WalletReader, useValue: deps.wallets },
        { provide: TransactionReader, useValue: deps.transactions },
        { provide: WithdrawalReader, useValue: deps.withdrawals },
        { provide: WITHDRAWAL_RETRY_AFTER, useValue: deps.withdrawalRetryAfterSec },
      ],
    };
  }
}
