import { Controller, Get, Inject, Param } from '@nestjs/common';
import { z } from 'zod';
import { UUID_PATTERN } from '@sluice/core';
import { parseOrProblem, problems } from '@sluice/http';
import type { WalletRecord } from '@sluice/projection-wallet';
import { WalletReader } from './wallet-reader';

const WalletIdParam = z.string().regex(UUID_PATTERN, 'must be a UUID');

export interface WalletResponse {
  walletId: string;
  currency: string;
  /** Minor units. */
  balance: number;
  /** The wallet's version as of this view; compare with a command's response to know it is included. */
  version: number;
  /** When the last event folded into this view happened (ISO-8601). */
  updatedAt: string;
}

@Controller('v1/wallets')
export class GetWalletHttp {
  constructor(@Inject(WalletReader) private readonly wallets: WalletReader) {}

  /** GET /v1/wallets/{walletId} → 200 {"walletId","currency","balance","version","updatedAt"} */
  @Get(':walletId')
  async get(@Param('walletId') rawWalletId: unknown): Promise<WalletResponse> {
    const walletId = parseOrProblem(WalletIdParam, rawWalletId, 'path.walletId').toLowerCase();
    const view = await this.wallets.find(walletId);
    // Also the answer right after the wallet is opened, until its event reaches the read model.
    if (!view) throw problems.notFound(`no wallet ${walletId} in the read model`, 'wallet_not_found');
    return toResponse(view);
  }
}

function toResponse(view: WalletRecord): WalletResponse {
  return {
    walletId: view.walletId,
    currency: view.currency,
    balance: view.balance,
    version: view.version,
    updatedAt: view.updatedAt.toISOString(),
  };
}
