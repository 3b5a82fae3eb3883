import { aggregateHead } from '@sluice/projection-kit';
import { readTransactions, type TransactionRecord } from '@sluice/projection-transactions';
import { findWallet } from '@sluice/projection-wallet';
import { SingleFlight } from '@sluice/resilience';
import type { Lag } from '../read-model/freshness';
import type { ReadModel } from '../read-model/read-model';
import type { TtlCache } from '../read-model/ttl-cache';
import { readOrUnavailable } from '../read-model/unavailable';

export interface TransactionPage {
  readonly items: TransactionRecord[];
  /** The version the next page starts below; undefined on the last page. */
  readonly nextBeforeVersion: number | undefined;
}

/**
 * Reads wallets' transaction histories (projections/transactions): pages are
 * cached per wallet (a change to the wallet drops all its pages), and a read
 * can wait until the history has folded a given wallet version.
 */
export class TransactionReader {
  /** walletId → page key → page. */
  private readonly cache: TtlCache<Map<string, TransactionPage>>;
  private readonly flights: SingleFlight<TransactionPage>;

  constructor(private readonly rm: ReadModel) {
    this.cache = rm.cacheFor('transactions');
    this.flights = new SingleFlight<TransactionPage>('transactions-read', rm.options.registry);
  }

  /** With `fresh` (a read that waited for a version), the cache is bypassed: its notification may not have arrived yet. */
  async page(walletId: string, beforeVersion: number | undefined, limit: number, fresh = false): Promise<TransactionPage> {
    const pageKey = `${beforeVersion ?? ''}:${limit}`;
    if (this.rm.caching && !fresh) {
      const hit = this.cache.get(walletId)?.get(pageKey);
      this.rm.metrics.cache.inc({ resource: 'transactions', result: hit ? 'hit' : 'miss' });
      if (hit) return hit;
    }
    const token = this.cache.begin(walletId);
    const page = await this.flights.do(`${walletId}|${pageKey}|${token}`, async () => {
      const { items, more } = await readOrUnavailable(() =>
        readTransactions(this.rm.pool, walletId, { limit, ...(beforeVersion !== undefined && { beforeVersion }) }),
      );
      return { items, nextBeforeVersion: more ? items.at(-1)?.version : undefined };
    });
    if (this.rm.caching) {
      const pages = this.cache.get(walletId) ?? new Map<string, TransactionPage>();
      pages.set(pageKey, page);
      this.cache.set(walletId, pages, token);
    }
    return page;
  }

  /** The last wallet version the history has folded (or let pass); undefined when it has seen none. */
  async head(walletId: string): Promise<number | undefined> {
    const schema = await this.rm.freshness.liveSchema('transactions');
    if (!schema) return undefined;
    return readOrUnavailable(() => aggregateHead(this.rm.pool, schema, walletId));
  }

  /** Waits (bounded) until the history has folded minVersion of the wallet; false when it did not in time. */
  async reach(walletId: string, minVersion: number, waitMs: number): Promise<boolean> {
    const now = await this.head(walletId);
    if (now !== undefined && now >= minVersion) {
      this.rm.observeWait('transactions', 'immediate', 0);
      return true;
    }
    const result = await this.rm.waits.until('transactions', walletId, minVersion, waitMs, () => this.head(walletId));
    this.rm.observeWait('transactions', result.reached ? 'waited' : 'stale', result.waitedMs);
    return result.reached;
  }

  async walletExists(walletId: string): Promise<boolean> {
    return (await readOrUnavailable(() => findWallet(this.rm.pool, walletId))) !== undefined;
  }

  lag(walletId: string): Promise<Lag | undefined> {
    return this.rm.freshness.lagOf('transactions', walletId);
  }
}
