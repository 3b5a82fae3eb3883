import { Body, Controller, Inject, Param, Post, Req, Res } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { SCOPES } from '@sluice/auth';
import { uuidv7 } from '@sluice/core';
import { parseOrProblem } from '@sluice/http';
import { WalletCommands } from '../wallet-commands';
import { amountField, authorized, currencyField, httpActor, idempotencyClaim, walletIdParam } from '../request-context';
import { sendCommandResult } from '../send-result';

const DepositBody = z.object({ amount: amountField, currency: currencyField }).strict();

@Controller('v1/wallets/:walletId/deposits')
export class DepositFundsHttp {
  constructor(@Inject(WalletCommands) private readonly commands: WalletCommands) {}

  /**
   * Scope funds:deposit (a funding service's; it deposits into any wallet).
   * POST /v1/wallets/{walletId}/deposits {"amount":1250,"currency":"EUR"}
   * with Idempotency-Key → 201 {"depositId","walletId","balance","version"}
   */
  @Post()
  async deposit(
    @Param('walletId') rawWalletId: unknown,
    @Body() rawBody: unknown,
    @Req() request: FastifyRequest,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    const principal = authorized(request, SCOPES.fundsDeposit);
    const walletId = walletIdParam(rawWalletId);
    const body = parseOrProblem(DepositBody, rawBody);
    const idempotency = idempotencyClaim(request, principal, `/v1/wallets/${walletId}/deposits`, body);
    const result = await this.commands.execute({
      command: { type: 'DepositFunds', walletId, depositId: uuidv7(), amount: body.amount, currency: body.currency },
      idempotency,
      actor: httpActor(principal, idempotency),
      ...(request.deadline && { deadline: request.deadline }),
      respond: (state, events) => {
        const deposited = events.find((e) => e.type === 'FundsDeposited');
        if (state.status !== 'open' || !deposited) throw new Error('deposit produced no FundsDeposited event');
        return {
          status: 201,
          body: JSON.stringify({ depositId: deposited.data.depositId, walletId, balance: state.balance, version: state.version }),
          headers: {},
        };
      },
    });
    sendCommandResult(reply, result);
  }
}
