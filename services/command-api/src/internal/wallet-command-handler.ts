import type { Pool } from 'pg';
import { Counter, type Registry } from 'prom-client';
import { errorMessage, isRetriable, SluiceError } from '@sluice/core';
import { ProblemError } from '@sluice/http';
import {
  COMMAND_REFUSALS,
  commandWireFormat,
  verifyCommand,
  verifyFramedCommand,
  type AvroEventCodec,
  type IssuerPolicy,
  type VerifiedFramedCommand,
} from '@sluice/messaging';
import { Deadline } from '@sluice/resilience';
import type { WalletCommands } from '../commands/wallet-commands';
import { recordRefusal, storedPayloadHash, type InboxClaim } from './inbox';
import { toWalletCommand, WalletCommandMessage, type ParsedWalletCommandMessage } from './wallet-command-message';

export type CommandOutcome = 'applied' | 'duplicate';

export interface WalletCommandHandlerOptions {
  consumer: string;
  attemptBudgetMs: number;
  /** Who may send which commands, with their public keys. */
  issuers: ReadonlyMap<string, IssuerPolicy>;
  /** Decodes Avro commands (the wallet-commands catalog; writer schemas from the registry). */
  codec: Pick<AvroEventCodec, 'decode'>;
}

/** A record's header as text; the first value when the header repeats. */
export type HeaderReader = (name: string) => string | undefined;

/** A command whose signature verified: who sent it (for the audit trail), what it says, and its payload's hash. */
export interface VerifiedWalletCommand {
  readonly issuer: string;
  readonly message: ParsedWalletCommandMessage;
  readonly payloadHash: string;
}

/**
 * Handles one internal wallet command, exactly once in effect: the inbox
 * row (consumer, commandId) is written in the command's own transaction, so
 * a redelivery finds it and changes nothing. What it throws tells the
 * consumer runtime what to do with the command:
 * - an unsigned command, a bad signature, an unknown issuer, a type its
 *   issuer may not send: command_<refusal>, not retriable (dead-lettered),
 *   counted by reason before anything else is read;
 * - a command id seen before with another payload: command_id_reused, not
 *   retriable (dead-lettered, counted); the first payload stays in effect;
 * - a malformed message (neither Avro nor JSON, bytes that do not decode
 *   with their schema, fields out of range): invalid_command, not retriable
 *   (dead-lettered); the registry being unreachable is retriable;
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
  private readonly refusals?: Counter<'reason'>;

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
      this.refusals = new Counter({
        name: 'sluice_internal_commands_refused_total',
        help: 'Internal commands refused before taking effect, by reason (unsigned, unsupported_version, unknown_issuer, bad_signature, type_not_allowed, command_id_reused)',
        labelNames: ['reason'],
        registers: [registry],
      });
      for (const reason of [...COMMAND_REFUSALS, 'command_id_reused']) this.refusals.inc({ reason }, 0);
    }
  }

  /**
   * Checks the signature, the issuer and its right to the type, then the message. Throws (not
   * retriable) what it refuses. The value is Avro in the Confluent framing (magic byte 0, wire
   * version 3, signed in headers) or JSON (wire version 2, signed inside; what senders wrote
   * before the topic had a schema, still read so a rolling upgrade loses nothing).
   */
  async verify(value: Buffer | null, header: HeaderReader = () => undefined): Promise<VerifiedWalletCommand> {
    const format = value ? commandWireFormat(value) : 'unknown';
    const verified = format === 'avro' ? await this.verifyAvro(value!, header) : this.verifyJson(value, format);
    if (!verified.ok) {
      this.refusals?.inc({ reason: verified.refusal });
      throw new SluiceError(`command_${verified.refusal}`, `refused: ${verified.detail}`);
    }
    try {
      return {
        issuer: verified.issuer,
        message: WalletCommandMessage.parse(verified.payload),
        payloadHash: verified.payloadHash,
      };
    } catch (err) {
      throw this.invalid(err);
    }
  }

  async handle(value: Buffer | null, header?: HeaderReader): Promise<CommandOutcome> {
    return this.execute(await this.verify(value, header));
  }

  private async verifyAvro(value: Buffer, header: HeaderReader): Promise<VerifiedFramedCommand> {
    try {
      return await verifyFramedCommand(value, header, this.options.issuers, this.options.codec);
    } catch (err) {
      if (isRetriable(err)) throw err;
      throw this.invalid(err);
    }
  }

  private verifyJson(value: Buffer | null, format: 'json' | 'unknown'): VerifiedFramedCommand {
    if (format === 'unknown') {
      throw this.invalid(new Error('the value is neither Avro (magic byte 0) nor a JSON object'));
    }
    let json: unknown;
    try {
      json = JSON.parse(value!.toString('utf8'));
    } catch (err) {
      throw this.invalid(err);
    }
    return verifyCommand(json, this.options.issuers);
  }

  private invalid(err: unknown): SluiceError {
    this.outcomes?.inc({ type: 'unknown', outcome: 'invalid' });
    return new SluiceError('invalid_command', `not a wallet command: ${errorMessage(err)}`, { cause: err });
  }

  /** Runs a verified command once in effect; a reused id with another payload is refused. */
  async execute(verified: VerifiedWalletCommand): Promise<CommandOutcome> {
    const parsed = verified.message;
    const claim: InboxClaim = { consumer: this.options.consumer, messageId: parsed.commandId, payloadHash: verified.payloadHash };
    try {
      const result = await this.commands.execute({
        command: toWalletCommand(parsed),
        inbox: claim,
        // The audit log names the issuer as who: the service whose signature the command carries.
        actor: { principal: verified.issuer, source: 'kafka', requestId: parsed.commandId },
        deadline: Deadline.after(this.options.attemptBudgetMs),
        respond: (state, events) => ({
          status: 200,
          body: JSON.stringify({ version: state.status === 'open' ? state.version : 0, events: events.map((e) => e.type) }),
          headers: {},
        }),
      });
      if (result.replayed) await this.refuseReusedId(claim);
      const outcome = result.replayed ? 'duplicate' : 'applied';
      this.outcomes?.inc({ type: parsed.type, outcome });
      return outcome;
    } catch (err) {
      if (err instanceof SluiceError && err.code === 'command_id_reused') throw err;
      if (isRefusal(err)) {
        const seenBefore = await recordRefusal(this.pool, claim, {
          status: err.status,
          body: JSON.stringify(err.toProblem()),
          headers: {},
        });
        if (seenBefore) await this.refuseReusedId(claim);
        this.outcomes?.inc({ type: parsed.type, outcome: 'refused' });
        throw new SluiceError(err.code, err.message, { cause: err });
      }
      if (err instanceof ProblemError && err.code === 'version_conflict') {
        throw new SluiceError('version_conflict', err.message, { cause: err, retriable: true });
      }
      throw err;
    }
  }

  private async refuseReusedId(claim: InboxClaim): Promise<void> {
    const stored = await storedPayloadHash(this.pool, claim);
    // Rows written before payload hashes were kept have none: a duplicate by id, as before.
    if (stored !== null && stored !== claim.payloadHash) {
      this.refusals?.inc({ reason: 'command_id_reused' });
      throw new SluiceError('command_id_reused', `command ${claim.messageId} was handled before with another payload`);
    }
  }
}

/** The wallet said no: a 4xx that retrying cannot change (a version conflict can). */
function isRefusal(err: unknown): err is ProblemError {
  return (
    err instanceof ProblemError && err.status >= 400 && err.status < 500 && err.code !== 'version_conflict' && !err.retriable
  );
}
