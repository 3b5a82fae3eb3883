import type {
  FundsDeposited,
  WalletEvent,
  WalletOpened,
  WithdrawalCompensated,
  WithdrawalCompleted,
  WithdrawalFailed,
  WithdrawalRequested,
  WithdrawalSubmitted,
} from '@sluice/schemas';
import { SluiceError } from '@sluice/core';
import { isCurrency } from './currencies';

export type WithdrawalStatus = 'requested' | 'submitted' | 'completed' | 'failed' | 'compensated';

export interface WithdrawalView {
  readonly amount: number;
  readonly status: WithdrawalStatus;
}

export type WalletState =
  | { readonly status: 'absent' }
  | {
      readonly status: 'open';
      readonly walletId: string;
      readonly currency: string;
      /** Owned funds, minor units: completed withdrawals are taken out. */
      readonly balance: number;
      /** Funds held for pending withdrawals; available = balance - held, never below zero. */
      readonly held: number;
      readonly version: number;
      /** The withdrawals the state was loaded with (the command side loads the ones a command touches). */
      readonly withdrawals: ReadonlyMap<string, WithdrawalView>;
    };

export const initialWalletState: WalletState = { status: 'absent' };

export type WalletCommand =
  | {
      readonly type: 'OpenWallet';
      readonly walletId: string;
      readonly currency: string;
      /** The subject that opens it and may act on it (recorded on WalletOpened). */
      readonly owner?: string;
    }
  | {
      readonly type: 'DepositFunds';
      readonly walletId: string;
      readonly depositId: string;
      readonly amount: number;
      readonly currency: string;
    }
  | {
      /** Holds the amount: available funds go down now, owned funds when the payout completes. */
      readonly type: 'RequestWithdrawal';
      readonly walletId: string;
      readonly withdrawalId: string;
      readonly amount: number;
      readonly currency: string;
    }
  | {
      /** The payout was handed to the provider. Repeating it changes nothing. */
      readonly type: 'MarkWithdrawalSubmitted';
      readonly walletId: string;
      readonly withdrawalId: string;
      readonly provider: string;
      readonly providerReference: string | null;
    }
  | {
      /** The provider paid out: the held amount leaves the wallet. Repeating it changes nothing. */
      readonly type: 'CompleteWithdrawal';
      readonly walletId: string;
      readonly withdrawalId: string;
      readonly providerReference: string | null;
    }
  | {
      /** The payout failed for good: the withdrawal fails and its hold is released in the same step. Repeating it changes nothing. */
      readonly type: 'FailWithdrawal';
      readonly walletId: string;
      readonly withdrawalId: string;
      readonly reason: string;
      readonly detail: string;
    };

export type WalletCommandType = WalletCommand['type'];

export type WalletErrorCode =
  | 'wallet_not_found'
  | 'wallet_already_exists'
  | 'unsupported_currency'
  | 'currency_mismatch'
  | 'invalid_amount'
  | 'balance_limit_exceeded'
  | 'insufficient_funds'
  | 'withdrawal_not_found'
  | 'withdrawal_already_exists'
  | 'withdrawal_not_pending';

/** A command the wallet refuses. Never retriable: the same command fails the same way. */
export class WalletError extends SluiceError<WalletErrorCode> {}

/** What decide needs from the world, passed in so the domain stays pure. */
export interface DecideContext {
  readonly now: number;
  readonly newId: () => string;
}

export function decide(command: WalletCommand, state: WalletState, ctx: DecideContext): WalletEvent[] {
  switch (command.type) {
    case 'OpenWallet': {
      if (state.status === 'open') throw new WalletError('wallet_already_exists', `wallet ${command.walletId} already exists`);
      if (!isCurrency(command.currency)) {
        throw new WalletError('unsupported_currency', `${command.currency} is not an ISO 4217 currency in circulation`);
      }
      const data: WalletOpened = {
        eventId: ctx.newId(),
        walletId: command.walletId,
        currency: command.currency,
        version: 1,
        occurredAt: ctx.now,
        owner: command.owner ?? null,
      };
      return [{ type: 'WalletOpened', data }];
    }
    case 'DepositFunds': {
      const wallet = openWallet(state, command.walletId);
      checkAmount(command.amount);
      checkCurrency(wallet, command.currency);
      const balance = wallet.balance + command.amount;
      if (!Number.isSafeInteger(balance)) {
        throw new WalletError(
          'balance_limit_exceeded',
          'the deposit would take the balance past the largest amount Sluice represents',
        );
      }
      const data: FundsDeposited = {
        eventId: ctx.newId(),
        walletId: wallet.walletId,
        depositId: command.depositId,
        amount: command.amount,
        currency: command.currency,
        balance,
        version: wallet.version + 1,
        occurredAt: ctx.now,
      };
      return [{ type: 'FundsDeposited', data }];
    }
    case 'RequestWithdrawal': {
      const wallet = openWallet(state, command.walletId);
      checkAmount(command.amount);
      checkCurrency(wallet, command.currency);
      if (wallet.withdrawals.has(command.withdrawalId)) {
        throw new WalletError('withdrawal_already_exists', `withdrawal ${command.withdrawalId} already exists`);
      }
      const available = wallet.balance - wallet.held;
      if (command.amount > available) {
        throw new WalletError(
          'insufficient_funds',
          `wallet ${wallet.walletId} has ${available} ${wallet.currency} available (minor units), less than ${command.amount}`,
          { details: { available } },
        );
      }
      const data: WithdrawalRequested = {
        eventId: ctx.newId(),
        walletId: wallet.walletId,
        withdrawalId: command.withdrawalId,
        amount: command.amount,
        currency: command.currency,
        balance: wallet.balance,
        held: wallet.held + command.amount,
        version: wallet.version + 1,
        occurredAt: ctx.now,
      };
      return [{ type: 'WithdrawalRequested', data }];
    }
    case 'MarkWithdrawalSubmitted': {
      const wallet = openWallet(state, command.walletId);
      const withdrawal = findWithdrawal(wallet, command.withdrawalId);
      if (withdrawal.status !== 'requested') {
        if (withdrawal.status === 'submitted' || withdrawal.status === 'completed') return [];
        throw notPending(command.withdrawalId, withdrawal.status, 'submitted');
      }
      const data: WithdrawalSubmitted = {
        eventId: ctx.newId(),
        walletId: wallet.walletId,
        withdrawalId: command.withdrawalId,
        provider: command.provider,
        providerReference: command.providerReference,
        version: wallet.version + 1,
        occurredAt: ctx.now,
      };
      return [{ type: 'WithdrawalSubmitted', data }];
    }
    case 'CompleteWithdrawal': {
      const wallet = openWallet(state, command.walletId);
      const withdrawal = findWithdrawal(wallet, command.withdrawalId);
      if (withdrawal.status === 'completed') return [];
      // A provider's confirmation can overtake the record of the submission: requested completes too.
      if (withdrawal.status !== 'requested' && withdrawal.status !== 'submitted') {
        throw notPending(command.withdrawalId, withdrawal.status, 'completed');
      }
      const data: WithdrawalCompleted = {
        eventId: ctx.newId(),
        walletId: wallet.walletId,
        withdrawalId: command.withdrawalId,
        amount: withdrawal.amount,
        currency: wallet.currency,
        balance: wallet.balance - withdrawal.amount,
        held: wallet.held - withdrawal.amount,
        providerReference: command.providerReference,
        version: wallet.version + 1,
        occurredAt: ctx.now,
      };
      return [{ type: 'WithdrawalCompleted', data }];
    }
    case 'FailWithdrawal': {
      const wallet = openWallet(state, command.walletId);
      const withdrawal = findWithdrawal(wallet, command.withdrawalId);
      if (withdrawal.status === 'failed' || withdrawal.status === 'compensated') return [];
      if (withdrawal.status === 'completed') throw notPending(command.withdrawalId, withdrawal.status, 'failed');
      const failed: WithdrawalFailed = {
        eventId: ctx.newId(),
        walletId: wallet.walletId,
        withdrawalId: command.withdrawalId,
        reason: command.reason,
        detail: command.detail,
        version: wallet.version + 1,
        occurredAt: ctx.now,
      };
      const compensated: WithdrawalCompensated = {
        eventId: ctx.newId(),
        walletId: wallet.walletId,
        withdrawalId: command.withdrawalId,
        amount: withdrawal.amount,
        currency: wallet.currency,
        balance: wallet.balance,
        held: wallet.held - withdrawal.amount,
        version: wallet.version + 2,
        occurredAt: ctx.now,
      };
      return [
        { type: 'WithdrawalFailed', data: failed },
        { type: 'WithdrawalCompensated', data: compensated },
      ];
    }
    default:
      return assertNever(command);
  }
}

type OpenWallet = Extract<WalletState, { status: 'open' }>;

function openWallet(state: WalletState, walletId: string): OpenWallet {
  if (state.status !== 'open') throw new WalletError('wallet_not_found', `wallet ${walletId} does not exist`);
  return state;
}

function checkAmount(amount: number): void {
  if (!Number.isSafeInteger(amount) || amount <= 0) {
    throw new WalletError('invalid_amount', 'amount must be a positive safe integer in minor units');
  }
}

function checkCurrency(wallet: OpenWallet, currency: string): void {
  if (currency !== wallet.currency) {
    throw new WalletError('currency_mismatch', `wallet ${wallet.walletId} holds ${wallet.currency}, not ${currency}`);
  }
}

function findWithdrawal(wallet: OpenWallet, withdrawalId: string): WithdrawalView {
  const withdrawal = wallet.withdrawals.get(withdrawalId);
  if (!withdrawal) {
    throw new WalletError('withdrawal_not_found', `wallet ${wallet.walletId} has no withdrawal ${withdrawalId}`);
  }
  return withdrawal;
}

function notPending(withdrawalId: string, status: WithdrawalStatus, target: WithdrawalStatus): WalletError {
  return new WalletError('withdrawal_not_pending', `withdrawal ${withdrawalId} is ${status}; it cannot become ${target}`, {
    details: { status },
  });
}

export function evolve(state: WalletState, event: WalletEvent): WalletState {
  if (event.type === 'WalletOpened') {
    return {
      status: 'open',
      walletId: event.data.walletId,
      currency: event.data.currency,
      balance: 0,
      held: 0,
      version: event.data.version,
      withdrawals: new Map(),
    };
  }
  if (state.status !== 'open') return state;
  const version = event.data.version;
  switch (event.type) {
    case 'FundsDeposited':
      return { ...state, balance: event.data.balance, version };
    case 'WithdrawalRequested':
      return {
        ...state,
        balance: event.data.balance,
        held: event.data.held,
        version,
        withdrawals: withStatus(state.withdrawals, event.data.withdrawalId, 'requested', event.data.amount),
      };
    case 'WithdrawalSubmitted':
      return { ...state, version, withdrawals: withStatus(state.withdrawals, event.data.withdrawalId, 'submitted') };
    case 'WithdrawalCompleted':
      return {
        ...state,
        balance: event.data.balance,
        held: event.data.held,
        version,
        withdrawals: withStatus(state.withdrawals, event.data.withdrawalId, 'completed', event.data.amount),
      };
    case 'WithdrawalFailed':
      return { ...state, version, withdrawals: withStatus(state.withdrawals, event.data.withdrawalId, 'failed') };
    case 'WithdrawalCompensated':
      return {
        ...state,
        balance: event.data.balance,
        held: event.data.held,
        version,
        withdrawals: withStatus(state.withdrawals, event.data.withdrawalId, 'compensated', event.data.amount),
      };
    default:
      return assertNever(event);
  }
}

function withStatus(
  withdrawals: ReadonlyMap<string, WithdrawalView>,
  id: string,
  status: WithdrawalStatus,
  amount?: number,
): ReadonlyMap<string, WithdrawalView> {
  const next = new Map(withdrawals);
  next.set(id, { amount: amount ?? withdrawals.get(id)?.amount ?? 0, status });
  return next;
}

export function assertNever(value: never): never {
  throw new Error(`unhandled variant: ${JSON.stringify(value)}`);
}
