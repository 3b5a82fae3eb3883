import { Module, type DynamicModule } from '@nestjs/common';
import { GetWalletHttp } from './wallets/get-wallet.http';
import { WalletReader } from './wallets/wallet-reader';

@Module({})
export class QueryApiModule {
  /** The module receives its collaborators ready-made from app.ts. */
  static with(deps: { wallets: WalletReader }): DynamicModule {
    return {
      module: QueryApiModule,
      controllers: [GetWalletHttp],
      providers: [{ provide: WalletReader, useValue: deps.wallets }],
    };
  }
}
