import type { Pool } from 'pg';
import { Counter, type Registry } from 'prom-client';
import { errorMessage, SluiceError } from '@sluice/core';
import { ProblemError } from '@sluice/http';
import { Deadline } from '@sluice/resilience';
import type { WalletCommands } from '../commands/wallet-commands';
import { recordRefusal, type InboxClaim } from './inbox';
import { toWalletCommand, WalletCommandMessage } from './wallet-command-message';

export type CommandOutcome = 'applied' | 'duplicate';

export interface WalletCommandHandlerOptions {
  consumer: string;
  attemptBudgetMs: number;
}

/**
 * Handles one internal wallet command, exactly once in effect: the inbox
 * row (consumer, commandId) is written in the command's own transaction, so
 * a redelivery finds it and changes nothing. What it throws tells the
 * consumer runtime what to do with the command:
 * - a malformed message: invalid_command, not retriable (dead-lettered);
 * - a command the wallet refuses (unknown wallet, insufficient funds, a
 *   withdrawal no longer pending): recorded in the inbox as refused, then
 *   thrown with the refusal's code, not retriable (dead-lettered; a
 *   redelivery is a duplicate);
 * - a passing failure (database timeout, overload, version conflict):
 *   thrown retriable, so the runtime retries it, then dead-letters it as
 *   retries_exhausted.
 */
export class WalletCommandHandler {
  private readonly outcomes?: Counter<'type' | 'outcome'>;

  constructor(
    private readonly commands: WalletCommands,
    private readonly pool: Pool,
    private readonly options: WalletCommandHandlerOptions,
    registry?: Registry,
  ) {
    if (registry) {
      this.outcomes = new Counter({
        name: 'sluice_internal_commands_total',
        help: 'Internal commands handled, by type and outcome (applied, duplicate, refused, invalid)',
        labelNames: ['type', 'outcome'],
        registers: [registry],
      });
    }
  }

  async handle(value: Buffer | null): Promise<CommandOutcome> {
    let parsed: ReturnType<typeof WalletCommandMessage.parse>;
    try {
      parsed = WalletCommandMessage.parse(JSON.parse(value?.toString('utf8') ?? 'null'));
    } catch (err) {
      this.outcomes?.inc({ type: 'unknown', outcome: 'invalid' });
      throw new SluiceError('invalid_command', `not a wallet command: ${errorMessage(err)}`);
    }
    const claim: InboxClaim = { consumer: this.options.consumer, messageId: parsed.commandId };
    try {
      const result = await this.commands.execute({
        command: toWalletCommand(parsed),
        inbox: claim,
        // The audit log names the issuer as who: the service that sent the command.
        actor: { principal: parsed.issuedBy ?? 'unattributed', source: 'kafka', requestId: parsed.commandId },
        deadline: Deadline.after(this.options.attemptBudgetMs),
        respond: (state, events) => ({
          status: 200,
          body: JSON.stringify({ version: state.status === 'open' ? state.version : 0, events: events.map((e) => e.type) }),
          headers: {},
        }),
      });
      const outcome = result.replayed ? 'duplicate' : 'applied';
      this.outcomes?.inc({ type: parsed.type, outcome });
      return outcome;
    } catch (err) {
      if (isRefusal(err)) {
        await recordRefusal(this.pool, claim, { status: err.status, body: JSON.stringify(err.toProblem()), headers: {} });
        this.outcomes?.inc({ type: parsed.type, outcome: 'refused' });
        throw new SluiceError(err.code, err.message, { cause: err });
      }
      if (err instanceof ProblemError && err.code === 'version_conflict') {
        throw new SluiceError('version_conflict', err.message, { cause: err, retriable: true });
      }
      throw err;
    }
  }
}

/** The wallet said no: a 4xx that retrying cannot change (a version conflict can). */
function isRefusal(err: unknown): err is ProblemError {
  return (
    err instanceof ProblemError && err.status >= 400 && err.status < 500 && err.code !== 'version_conflict' && !err.retriable
  );
}
