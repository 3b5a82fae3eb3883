import { Controller, Get, Inject, Param, Query, Req, Res } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { canRead, requireReadScope } from '@sluice/auth';
import { principalOf, problems } from '@sluice/http';
import type { WalletRecord } from '@sluice/projection-wallet';
import { preferredWaitMs, sendRead } from '../read-model/http';
import { idParam, minVersionParam } from '../read-model/params';
import { ReadModel } from '../read-model/read-model';
import { WalletReader } from './wallet-reader';

export interface WalletResponse {
  walletId: string;
  currency: string;
  /** Owned funds, minor units. */
  balance: number;
  /** Held for pending withdrawals. */
  held: number;
  /** balance - held: what the wallet can spend. */
  available: number;
  /** The wallet's version as of this view; compare with a command's response to know it is included. */
  version: number;
  /** When the last event folded into this view happened (ISO-8601). */
  updatedAt: string;
}

@Controller('v1/wallets')
export class GetWalletHttp {
  constructor(
    @Inject(WalletReader) private readonly wallets: WalletReader,
    @Inject(ReadModel) private readonly rm: ReadModel,
  ) {}

  /**
   * Scope wallets:read (the caller's own wallets) or wallets:read:any.
   * GET /v1/wallets/{walletId}[?minVersion=N] → 200 {"walletId","currency","balance","held","available","version","updatedAt"}
   * with ETag (304 on If-None-Match), Sluice-Lag-Ms / Sluice-Lag-Records, and Sluice-Stale: true when
   * minVersion was not reached within the wait (at most 2 s by default; Prefer: wait=N asks for less).
   */
  @Get(':walletId')
  async get(
    @Param('walletId') rawWalletId: unknown,
    @Query('minVersion') rawMinVersion: unknown,
    @Req() request: FastifyRequest,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    const principal = principalOf(request);
    requireReadScope(principal);
    const walletId = idParam(rawWalletId, 'walletId');
    const minVersion = minVersionParam(rawMinVersion);
    const { value, stale } = await this.wallets.read(walletId, minVersion, this.rm.waitMs(preferredWaitMs(request.headers)));
    // Also the answer right after the wallet is opened, until its event reaches the read model;
    // and for another subject's wallet, which must not be told apart from one that does not exist.
    if (!value || !canRead(principal, value.owner)) {
      const problem = problems.notFound(`no wallet ${walletId} in the read model`, 'wallet_not_found');
      if (stale && value === undefined) Object.assign(problem.headers, { 'sluice-stale': 'true' });
      throw problem;
    }
    const notModified = sendRead(request, reply, toResponse(value), { lag: await this.wallets.lag(walletId), stale });
    if (notModified) this.rm.metrics.notModified.inc({ resource: 'wallet' });
  }
}

function toResponse(view: WalletRecord): WalletResponse {
  return {
    walletId: view.walletId,
    currency: view.currency,
    balance: view.balance,
    held: view.held,
    available: view.available,
    version: view.version,
    updatedAt: view.updatedAt.toISOString(),
  };
}
