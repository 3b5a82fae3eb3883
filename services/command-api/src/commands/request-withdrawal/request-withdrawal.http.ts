import { Body, Controller, Inject, Param, Post, Req, Res } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { SCOPES } from '@sluice/auth';
import { uuidv7 } from '@sluice/core';
import { parseOrProblem } from '@sluice/http';
import { WalletCommands } from '../wallet-commands';
import { amountField, authorized, currencyField, httpActor, idempotencyClaim, walletIdParam } from '../request-context';
import { sendCommandResult } from '../send-result';

const WithdrawalBody = z.object({ amount: amountField, currency: currencyField }).strict();

/** How long a client should wait before polling a new withdrawal's status (WITHDRAWAL_POLL_AFTER_SEC). */
export const WITHDRAWAL_POLL_AFTER_SEC = Symbol('WITHDRAWAL_POLL_AFTER_SEC');

@Controller('v1/wallets/:walletId/withdrawals')
export class RequestWithdrawalHttp {
  constructor(
    @Inject(WalletCommands) private readonly commands: WalletCommands,
    @Inject(WITHDRAWAL_POLL_AFTER_SEC) private readonly pollAfterSec: number,
  ) {}

  /**
   * Scope withdrawals:request, on the caller's own wallet (another's answers 404).
   * POST /v1/wallets/{walletId}/withdrawals {"amount":500,"currency":"EUR"} with Idempotency-Key
   * → 202 Accepted, Location: /v1/withdrawals/{withdrawalId}, Retry-After,
   *   {"withdrawalId","state":"requested","nextCheckSec"}.
   * The amount is held in the same transaction; the payout happens later.
   */
  @Post()
  async request(
    @Param('walletId') rawWalletId: unknown,
    @Body() rawBody: unknown,
    @Req() request: FastifyRequest,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    const principal = authorized(request, SCOPES.withdrawalsRequest);
    const walletId = walletIdParam(rawWalletId);
    const body = parseOrProblem(WithdrawalBody, rawBody);
    const idempotency = idempotencyClaim(request, principal, `/v1/wallets/${walletId}/withdrawals`, body);
    const withdrawalId = uuidv7();
    const nextCheckSec = this.pollAfterSec;
    const result = await this.commands.execute({
      command: { type: 'RequestWithdrawal', walletId, withdrawalId, amount: body.amount, currency: body.currency },
      idempotency,
      actor: httpActor(principal, idempotency),
      // Customers withdraw from their own wallets only; another's answers 404.
      ownedBy: principal.subject,
      ...(request.deadline && { deadline: request.deadline }),
      respond: () => ({
        status: 202,
        body: JSON.stringify({ withdrawalId, state: 'requested', nextCheckSec }),
        headers: { location: `/v1/withdrawals/${withdrawalId}`, 'retry-after': String(nextCheckSec) },
      }),
    });
    sendCommandResult(reply, result);
  }
}
