import { z } from 'zod';
import { UUID_PATTERN } from '@sluice/core';
import type { WalletCommandMessage as WireCommand } from '@sluice/schemas';
import type { WalletCommand } from '@sluice/wallet-domain';

const uuid = z
  .string()
  .regex(UUID_PATTERN, 'must be a UUID')
  .transform((s) => s.toLowerCase());
const amount = z.number().int().positive().max(Number.MAX_SAFE_INTEGER);
const currency = z.string().regex(/^[A-Z]{3}$/);
const label = z.string().min(1).max(255);

/**
 * An internal command as it travels on the wallet command topic (Avro, or JSON
 * written before the topic had a schema), keyed
 * by walletId (one wallet's commands stay in order on one partition), with a
 * commandId the sender keeps across its own retries. The inbox dedupes by it.
 */
export const WalletCommandMessage = z.discriminatedUnion('type', [
  z
    .object({ type: z.literal('DepositFunds'), commandId: uuid, walletId: uuid, amount, currency, issuedBy: label.nullish() })
    .strict(),
  z
    .object({
      type: z.literal('MarkWithdrawalSubmitted'),
      commandId: uuid,
      walletId: uuid,
      withdrawalId: uuid,
      provider: label,
      providerReference: label.nullable().default(null),
      issuedBy: label.nullish(),
    })
    .strict(),
  z
    .object({
      type: z.literal('CompleteWithdrawal'),
      commandId: uuid,
      walletId: uuid,
      withdrawalId: uuid,
      providerReference: label.nullable().default(null),
      issuedBy: label.nullish(),
    })
    .strict(),
  z
    .object({
      type: z.literal('FailWithdrawal'),
      commandId: uuid,
      walletId: uuid,
      withdrawalId: uuid,
      reason: label,
      detail: z.string().max(2_000),
      issuedBy: label.nullish(),
    })
    .strict(),
]);

export type WalletCommandMessage = z.input<typeof WalletCommandMessage>;

// The topic's contract is schemas/avro/wallet-commands; this parser adds the rules Avro cannot say
// (UUIDs, positive amounts, lengths). It must accept exactly the contract's shape, or fail to compile.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const sameShape: Same<WalletCommandMessage, WireCommand> = true;
void sameShape;
export type ParsedWalletCommandMessage = z.output<typeof WalletCommandMessage>;

/** The domain command a message carries. A deposit's id is its command id: one command, one deposit. */
export function toWalletCommand(message: ParsedWalletCommandMessage): WalletCommand {
  switch (message.type) {
    case 'DepositFunds':
      return {
        type: 'DepositFunds',
        walletId: message.walletId,
        depositId: message.commandId,
        amount: message.amount,
        currency: message.currency,
      };
    case 'MarkWithdrawalSubmitted':
      return {
        type: 'MarkWithdrawalSubmitted',
        walletId: message.walletId,
        withdrawalId: message.withdrawalId,
        provider: message.provider,
        providerReference: message.providerReference,
      };
    case 'CompleteWithdrawal':
      return {
        type: 'CompleteWithdrawal',
        walletId: message.walletId,
        withdrawalId: message.withdrawalId,
        providerReference: message.providerReference,
      };
    case 'FailWithdrawal':
      return {
        type: 'FailWithdrawal',
        walletId: message.walletId,
        withdrawalId: message.withdrawalId,
        reason: message.reason,
        detail: message.detail,
      };
    default: {
      const never: never = message;
      throw new Error(`unhandled command message ${JSON.stringify(never)}`);
    }
  }
}
