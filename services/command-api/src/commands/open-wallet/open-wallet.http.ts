import { Body, Controller, HttpCode, Inject, Post, Req, Res } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { SCOPES } from '@sluice/auth';
import { uuidv7 } from '@sluice/core';
import { parseOrProblem } from '@sluice/http';
import { WalletCommands } from '../wallet-commands';
import { authorized, currencyField, httpActor, idempotencyClaim } from '../request-context';
import { sendCommandResult } from '../send-result';

const OpenWalletBody = z.object({ currency: currencyField }).strict();

@Controller('v1/wallets')
export class OpenWalletHttp {
  constructor(@Inject(WalletCommands) private readonly commands: WalletCommands) {}

  /** Scope wallets:open. POST /v1/wallets {"currency":"EUR"} with Idempotency-Key → 201 {"walletId","currency","version"}; the caller owns the wallet. */
  @Post()
  @HttpCode(201)
  async open(@Body() rawBody: unknown, @Req() request: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    const principal = authorized(request, SCOPES.walletsOpen);
    const body = parseOrProblem(OpenWalletBody, rawBody);
    const idempotency = idempotencyClaim(request, principal, '/v1/wallets', body);
    const walletId = uuidv7();
    const result = await this.commands.execute({
      command: { type: 'OpenWallet', walletId, currency: body.currency, owner: principal.subject },
      idempotency,
      actor: httpActor(principal, idempotency),
      ...(request.deadline && { deadline: request.deadline }),
      respond: (state) => {
        if (state.status !== 'open') throw new Error('wallet not open after OpenWallet');
        return {
          status: 201,
          body: JSON.stringify({ walletId: state.walletId, currency: state.currency, version: state.version }),
          headers: { location: `/v1/wallets/${state.walletId}` },
        };
      },
    });
    sendCommandResult(reply, result);
  }
}
