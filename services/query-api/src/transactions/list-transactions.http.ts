import { Controller, Get, Inject, Param, Query, Req, Res } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { canRead, requireReadScope } from '@sluice/auth';
import { parseOrProblem, principalOf, problems } from '@sluice/http';
import type { TransactionRecord } from '@sluice/projection-transactions';
import { preferredWaitMs, sendRead } from '../read-model/http';
import { idParam, minVersionParam } from '../read-model/params';
import { ReadModel } from '../read-model/read-model';
import { decodeCursor, encodeCursor } from './cursor';
import { WalletReader } from '../wallets/wallet-reader';
import { TransactionReader } from './transaction-reader';

export const HISTORY_PAGE = { default: 20, max: 100 };
const Limit = z.coerce.number().int().min(1).max(HISTORY_PAGE.max).default(HISTORY_PAGE.default);
const CursorParam = z.string().min(1).max(512).optional();

export interface TransactionItemResponse {
  /** The event's id. */
  id: string;
  /** deposit | withdrawal_hold | withdrawal | withdrawal_release */
  type: string;
  /** Minor units, > 0; the type says which way it moved. */
  amount: number;
  currency: string;
  /** Owned funds after the item. */
  balance: number;
  /** The wallet's version after the item. */
  version: number;
  occurredAt: string;
  depositId?: string;
  withdrawalId?: string;
}

@Controller('v1/wallets/:walletId/transactions')
export class ListTransactionsHttp {
  constructor(
    @Inject(TransactionReader) private readonly history: TransactionReader,
    @Inject(WalletReader) private readonly wallets: WalletReader,
    @Inject(ReadModel) private readonly rm: ReadModel,
  ) {}

  /**
   * Scope wallets:read (the caller's own wallets) or wallets:read:any.
   * GET /v1/wallets/{walletId}/transactions?limit=&cursor=&minVersion= → 200 {"items":[…],"nextCursor"}
   * newest first; nextCursor is null on the last page. ETag, lag headers and Sluice-Stale as for the wallet.
   */
  @Get()
  async list(
    @Param('walletId') rawWalletId: unknown,
    @Query('limit') rawLimit: unknown,
    @Query('cursor') rawCursor: unknown,
    @Query('minVersion') rawMinVersion: unknown,
    @Req() request: FastifyRequest,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    const principal = principalOf(request);
    requireReadScope(principal);
    const walletId = idParam(rawWalletId, 'walletId');
    const limit = parseOrProblem(Limit, rawLimit === '' ? undefined : rawLimit, 'query.limit');
    const cursor = parseOrProblem(CursorParam, rawCursor, 'query.cursor');
    const minVersion = minVersionParam(rawMinVersion);
    const beforeVersion = cursor === undefined ? undefined : decodeCursor(cursor, walletId);
    // Another subject's history answers as a wallet that does not exist (wallets:read:any reads every one).
    if (!canRead(principal, null) && !canRead(principal, (await this.wallets.find(walletId))?.owner)) {
      throw problems.notFound(`no wallet ${walletId} in the read model`, 'wallet_not_found');
    }
    const stale =
      minVersion !== undefined &&
      !(await this.history.reach(walletId, minVersion, this.rm.waitMs(preferredWaitMs(request.headers))));
    const page = await this.history.page(walletId, beforeVersion, limit, minVersion !== undefined);
    if (page.items.length === 0 && beforeVersion === undefined && !(await this.history.walletExists(walletId))) {
      throw problems.notFound(`no wallet ${walletId} in the read model`, 'wallet_not_found');
    }
    const body = {
      items: page.items.map(toItem),
      nextCursor: page.nextBeforeVersion === undefined ? null : encodeCursor(walletId, page.nextBeforeVersion),
    };
    const notModified = sendRead(request, reply, body, { lag: await this.history.lag(walletId), stale });
    if (notModified) this.rm.metrics.notModified.inc({ resource: 'transactions' });
  }
}

function toItem(t: TransactionRecord): TransactionItemResponse {
  return {
    id: t.eventId,
    type: t.type,
    amount: t.amount,
    currency: t.currency,
    balance: t.balance,
    version: t.version,
    occurredAt: t.occurredAt.toISOString(),
    ...(t.type === 'deposit' ? { depositId: t.reference } : { withdrawalId: t.reference }),
  };
}
