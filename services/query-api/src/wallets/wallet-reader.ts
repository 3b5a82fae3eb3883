import { findWallet, type WalletRecord } from '@sluice/projection-wallet';
import { CachedReader, type VersionedRead } from '../read-model/cached-reader';
import type { Lag } from '../read-model/freshness';
import type { ReadModel } from '../read-model/read-model';

/** Reads the wallet read model (projections/wallet). */
export class WalletReader {
  private readonly reader: CachedReader<WalletRecord>;

  constructor(private readonly rm: ReadModel) {
    this.reader = new CachedReader(
      rm,
      'wallet',
      'wallet',
      (id) => findWallet(rm.pool, id),
      (w) => w.version,
    );
  }

  find(walletId: string): Promise<WalletRecord | undefined> {
    return this.reader.find(walletId);
  }

  read(walletId: string, minVersion: number | undefined, waitMs: number): Promise<VersionedRead<WalletRecord>> {
    return this.reader.read(walletId, minVersion, waitMs);
  }

  lag(walletId: string): Promise<Lag | undefined> {
    return this.rm.freshness.lagOf('wallet', walletId);
  }
}
