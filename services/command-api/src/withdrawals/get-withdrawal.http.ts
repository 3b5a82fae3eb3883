import { Controller, Get, Inject, Param, Req, Res } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { UUID_PATTERN } from '@sluice/core';
import { parseOrProblem, problems } from '@sluice/http';
import { canRead } from '@sluice/auth';
import { readAuthorized } from '../commands/request-context';
import { WITHDRAWAL_POLL_AFTER_SEC } from '../commands/request-withdrawal/request-withdrawal.http';
import { WithdrawalStatusReader } from './withdrawal-status';

const WithdrawalIdParam = z.string().regex(UUID_PATTERN, 'must be a UUID');
const PENDING = new Set(['requested', 'submitted']);

@Controller('v1/withdrawals')
export class GetWithdrawalHttp {
  constructor(
    @Inject(WithdrawalStatusReader) private readonly reader: WithdrawalStatusReader,
    @Inject(WITHDRAWAL_POLL_AFTER_SEC) private readonly pollAfterSec: number,
  ) {}

  /**
   * Scope wallets:read (the caller's own wallets' withdrawals) or wallets:read:any.
   * GET /v1/withdrawals/{withdrawalId} → 200 {"withdrawalId","walletId","amount","currency","state",
   * "createdAt","updatedAt"} plus "nextCheckSec" and Retry-After while the withdrawal is pending.
   */
  @Get(':withdrawalId')
  async get(@Param('withdrawalId') rawId: unknown, @Req() request: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    const principal = readAuthorized(request);
    const withdrawalId = parseOrProblem(WithdrawalIdParam, rawId, 'path.withdrawalId').toLowerCase();
    const found = await this.reader.find(withdrawalId, request.deadline ?? undefined);
    // Another subject's withdrawal is answered exactly as one that does not exist.
    if (!found || !canRead(principal, found.owner))
      throw problems.notFound(`no withdrawal ${withdrawalId}`, 'withdrawal_not_found');
    const { status } = found;
    const pending = PENDING.has(status.state);
    if (pending) void reply.header('retry-after', String(this.pollAfterSec));
    void reply
      .code(200)
      .type('application/json')
      .send(JSON.stringify(pending ? { ...status, nextCheckSec: this.pollAfterSec } : status));
  }
}
