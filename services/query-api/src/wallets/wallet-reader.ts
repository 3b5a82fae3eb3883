import type { Pool } from 'pg';
import { problems } from '@sluice/http';
import { findWallet, type WalletRecord } from '@sluice/projection-wallet';

/** PostgreSQL codes that mean "not now" rather than "broken": answered 503 with Retry-After. */
const UNAVAILABLE: Record<string, string> = {
  '42P01': 'the wallet read model does not exist yet (the projector creates it at start-up)',
  '57014': 'the database did not answer in time',
  '53300': 'the database has no free connection',
};

/** Reads the wallet read model (projections/wallet). */
export class WalletReader {
  constructor(private readonly pool: Pool) {}

  async find(walletId: string): Promise<WalletRecord | undefined> {
    try {
      return await findWallet(this.pool, walletId);
    } catch (err) {
      const detail = UNAVAILABLE[pgCode(err) ?? ''];
      if (detail) throw problems.unavailable(detail, 1);
      throw err;
    }
  }
}

/** drizzle wraps driver errors; the SQLSTATE sits on the error or its cause. */
function pgCode(err: unknown): string | undefined {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 4; e = e.cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') return code;
  }
  return undefined;
}
