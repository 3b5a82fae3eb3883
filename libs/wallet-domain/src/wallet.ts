import type { FundsDeposited, WalletEvent, WalletOpened } from '@sluice/schemas';
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
  | { readonly type: 'OpenWallet'; readonly walletId: string; readonly currency: string }
  | {
      readonly type: 'DepositFunds';
      readonly walletId: string;
      readonly depositId: string;
      readonly amount: number;
      readonly currency: string;
    };

export type WalletErrorCode =
  | 'wallet_not_found'
  | 'wallet_already_exists'
  | 'unsupported_currency'
  | 'currency_mismatch'
  | 'invalid_amount'
  | 'balance_limit_exceeded';

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
      };
      return [{ type: 'WalletOpened', data }];
    }
    case 'DepositFunds': {
      if (state.status !== 'open') throw new WalletError('wallet_not_found', `wallet ${command.walletId} does not exist`);
      if (!Number.isSafeInteger(command.amount) || command.amount <= 0) {
        throw new WalletError('invalid_amount', 'amount must be a positive safe integer in minor units');
      }
      if (command.currency !== state.currency) {
        throw new WalletError('currency_mismatch', `wallet ${state.walletId} holds ${state.currency}, not ${command.currency}`);
      }
      const balance = state.balance + command.amount;
      if (!Number.isSafeInteger(balance)) {
        throw new WalletError(
          'balance_limit_exceeded',
          'the deposit would take the balance past the largest amount Sluice represents',
        );
      }
      const data: FundsDeposited = {
        eventId: ctx.newId(),
        walletId: state.walletId,
        depositId: command.depositId,
        amount: command.amount,
        currency: command.currency,
        balance,
        version: state.version + 1,
        occurredAt: ctx.now,
      };
      return [{ type: 'FundsDeposited', data }];
    }
    default:
      return assertNever(command);
  }
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
