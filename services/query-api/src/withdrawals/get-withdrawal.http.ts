import { Controller, Get, Inject, Param, Query, Req, Res } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { canRead, requireReadScope } from '@sluice/auth';
import { principalOf, problems } from '@sluice/http';
import type { WithdrawalRecord } from '@sluice/projection-withdrawals';
import { preferredWaitMs, sendRead } from '../read-model/http';
import { idParam, minVersionParam } from '../read-model/params';
import { ReadModel } from '../read-model/read-model';
import { WalletReader } from '../wallets/wallet-reader';
import { WithdrawalReader } from './withdrawal-reader';

export interface WithdrawalResponse {
  withdrawalId: string;
  walletId: string;
  amount: number;
  currency: string;
  /** processing | completed | failed | compensated */
  state: string;
  provider: string | null;
  providerReference: string | null;
  /** Why it failed, when it did. */
  failure: { reason: string; detail: string | null } | null;
  requestedAt: string;
  updatedAt: string;
  /** The wallet's version after the withdrawal's last event. */
  version: number;
}

/** Seconds a client should wait before asking again about a withdrawal still processing. */
export const WITHDRAWAL_RETRY_AFTER = Symbol('WITHDRAWAL_RETRY_AFTER');

@Controller('v1/withdrawals')
export class GetWithdrawalHttp {
  constructor(
    @Inject(WithdrawalReader) private readonly withdrawals: WithdrawalReader,
    @Inject(WalletReader) private readonly wallets: WalletReader,
    @Inject(ReadModel) private readonly rm: ReadModel,
    @Inject(WITHDRAWAL_RETRY_AFTER) private readonly retryAfterSec: number,
  ) {}

  /**
   * Scope wallets:read (withdrawals of the caller's own wallets) or wallets:read:any.
   * GET /v1/withdrawals/{withdrawalId}[?minVersion=N] → 200 {"withdrawalId","walletId","amount","state",…}
   * with Retry-After while the withdrawal is processing; ETag, lag headers and Sluice-Stale as for wallets.
   */
  @Get(':withdrawalId')
  async get(
    @Param('withdrawalId') rawId: unknown,
    @Query('minVersion') rawMinVersion: unknown,
    @Req() request: FastifyRequest,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    const principal = principalOf(request);
    requireReadScope(principal);
    const withdrawalId = idParam(rawId, 'withdrawalId');
    const minVersion = minVersionParam(rawMinVersion);
    const { value, stale } = await this.withdrawals.read(
      withdrawalId,
      minVersion,
      this.rm.waitMs(preferredWaitMs(request.headers)),
    );
    // Readable through its wallet's owner; another subject's withdrawal answers as one that does not exist.
    const readable = value !== undefined && canRead(principal, (await this.wallets.find(value.walletId))?.owner);
    if (!value || !readable) {
      const problem = problems.notFound(`no withdrawal ${withdrawalId} in the read model`, 'withdrawal_not_found');
      if (stale && !value) Object.assign(problem.headers, { 'sluice-stale': 'true' });
      throw problem;
    }
    const notModified = sendRead(request, reply, toResponse(value), {
      lag: await this.withdrawals.lag(value.walletId),
      stale,
      ...(value.state === 'processing' && { extra: { 'retry-after': String(this.retryAfterSec) } }),
    });
    if (notModified) this.rm.metrics.notModified.inc({ resource: 'withdrawal' });
  }
}

/** The body of GET /v1/withdrawals/{id}; status pushes carry the same. */
export function toResponse(w: WithdrawalRecord): WithdrawalResponse {
  return {
    withdrawalId: w.withdrawalId,
    walletId: w.walletId,
    amount: w.amount,
    currency: w.currency,
    state: w.state,
    provider: w.provider,
    providerReference: w.providerReference,
    failure: w.failureReason === null ? null : { reason: w.failureReason, detail: w.failureDetail },
    requestedAt: w.requestedAt.toISOString(),
    updatedAt: w.updatedAt.toISOString(),
    version: w.version,
  };
}
