import { setTimeout as sleep } from 'node:timers/promises';
import type { KafkaMessage } from 'kafkajs';
import type { Pool } from 'pg';
import { Counter, type Registry } from 'prom-client';
import { errorMessage } from '@sluice/core';
import { ProblemError } from '@sluice/http';
import type { Logger } from '@sluice/observability';
import { Deadline } from '@sluice/resilience';
import type { WalletCommands } from '../commands/wallet-commands';
import type { DeadLetterPublisher } from './dead-letter';
import { recordRefusal, type InboxClaim } from './inbox';
import { toWalletCommand, WalletCommandMessage } from './wallet-command-message';

export interface ReceivedCommand {
  topic: string;
  partition: number;
  message: KafkaMessage;
  /** Keeps the consumer in its group while a command is retried. */
  heartbeat: () => Promise<void>;
}

export type CommandOutcome = 'applied' | 'duplicate' | 'refused' | 'dead_lettered';

export interface WalletCommandHandlerOptions {
  consumer: string;
  maxAttempts: number;
  attemptBudgetMs: number;
  /** First pause between attempts; doubles each time, with jitter. */
  backoffMs?: number;
}

/**
 * Handles one internal wallet command, exactly once in effect:
 * - the inbox row (consumer, commandId) is written in the command's own
 *   transaction, so a redelivery finds it and changes nothing;
 * - a command the wallet refuses (unknown wallet, insufficient funds, a
 *   withdrawal no longer pending) is recorded in the inbox as refused and
 *   parked on the dead-letter topic: retrying cannot change the answer;
 * - a malformed message goes straight to the dead-letter topic;
 * - a passing failure (database timeout, overload, version conflict) is
 *   retried with backoff up to maxAttempts, then dead-lettered.
 * It throws only when even the dead-letter topic cannot take the record: the
 * offset then stays uncommitted and Kafka delivers the command again.
 */
export class WalletCommandHandler {
  private readonly outcomes?: Counter<'type' | 'outcome'>;

  constructor(
    private readonly commands: WalletCommands,
    private readonly pool: Pool,
    private readonly deadLetters: DeadLetterPublisher,
    private readonly options: WalletCommandHandlerOptions,
    private readonly logger: Logger,
    registry?: Registry,
  ) {
    if (registry) {
      this.outcomes = new Counter({
        name: 'sluice_internal_commands_total',
        help: 'Internal commands handled, by type and outcome (applied, duplicate, refused, dead_lettered)',
        labelNames: ['type', 'outcome'],
        registers: [registry],
      });
    }
  }

  async handle(received: ReceivedCommand): Promise<CommandOutcome> {
    const { message } = received;
    const raw = message.value;
    let parsed: ReturnType<typeof WalletCommandMessage.parse>;
    try {
      parsed = WalletCommandMessage.parse(JSON.parse(raw?.toString('utf8') ?? 'null'));
    } catch (err) {
      await this.park(received, 'invalid_command', `not a wallet command: ${errorMessage(err)}`, 1);
      return this.count('unknown', 'dead_lettered');
    }
    const claim: InboxClaim = { consumer: this.options.consumer, messageId: parsed.commandId };
    const command = toWalletCommand(parsed);
    for (let attempt = 1; ; attempt++) {
      try {
        const result = await this.commands.execute({
          command,
          inbox: claim,
          deadline: Deadline.after(this.options.attemptBudgetMs),
          respond: (state, events) => ({
            status: 200,
            body: JSON.stringify({ version: state.status === 'open' ? state.version : 0, events: events.map((e) => e.type) }),
            headers: {},
          }),
        });
        return this.count(parsed.type, result.replayed ? 'duplicate' : 'applied');
      } catch (err) {
        if (isRefusal(err)) {
          await recordRefusal(this.pool, claim, { status: err.status, body: JSON.stringify(err.toProblem()), headers: {} });
          await this.park(received, err.code, err.message, attempt);
          return this.count(parsed.type, 'refused');
        }
        if (attempt >= this.options.maxAttempts) {
          await this.park(received, 'retries_exhausted', `${attempt} attempts failed; last: ${errorMessage(err)}`, attempt);
          return this.count(parsed.type, 'dead_lettered');
        }
        this.logger.warn({ err, commandId: parsed.commandId, attempt }, 'internal command failed; retrying');
        await received.heartbeat();
        const base = (this.options.backoffMs ?? 100) * 2 ** (attempt - 1);
        await sleep(base / 2 + Math.random() * base);
      }
    }
  }

  private async park(received: ReceivedCommand, code: string, reason: string, attempts: number): Promise<void> {
    const { message } = received;
    await this.deadLetters.publish({
      topic: received.topic,
      partition: received.partition,
      offset: message.offset,
      key: message.key,
      value: message.value,
      headers: message.headers ?? {},
      code,
      reason,
      attempts,
    });
    this.logger.warn({ code, reason, topic: received.topic, offset: message.offset }, 'internal command dead-lettered');
  }

  private count(type: string, outcome: CommandOutcome): CommandOutcome {
    this.outcomes?.inc({ type, outcome });
    return outcome;
  }
}

/** The wallet said no: a 4xx that retrying cannot change (a version conflict can). */
function isRefusal(err: unknown): err is ProblemError {
  return (
    err instanceof ProblemError && err.status >= 400 && err.status < 500 && err.code !== 'version_conflict' && !err.retriable
  );
}
