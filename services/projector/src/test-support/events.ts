import { uuidv7 } from '@sluice/core';
import type { WalletEvent } from '@sluice/schemas';

export const T0 = Date.parse('2025-06-01T10:00:00.000Z');

export function opened(walletId: string, currency = 'EUR'): WalletEvent {
  return { type: 'WalletOpened', data: { eventId: uuidv7(), walletId, currency, version: 1, occurredAt: T0 } };
}

export function deposited(walletId: string, version: number, amount: number, balance: number): WalletEvent {
  return {
    type: 'FundsDeposited',
    data: {
      eventId: uuidv7(),
      walletId,
      depositId: uuidv7(),
      amount,
      currency: 'EUR',
      balance,
      version,
      occurredAt: T0 + version * 1_000,
    },
  };
}

export function requested(
  walletId: string,
  version: number,
  withdrawalId: string,
  amount: number,
  balance: number,
  held: number,
): WalletEvent {
  return {
    type: 'WithdrawalRequested',
    data: {
      eventId: uuidv7(),
      walletId,
      withdrawalId,
      amount,
      currency: 'EUR',
      balance,
      held,
      version,
      occurredAt: T0 + version * 1_000,
    },
  };
}

export function submitted(walletId: string, version: number, withdrawalId: string): WalletEvent {
  return {
    type: 'WithdrawalSubmitted',
    data: {
      eventId: uuidv7(),
      walletId,
      withdrawalId,
      provider: 'psp-sim',
      providerReference: null,
      version,
      occurredAt: T0 + version * 1_000,
    },
  };
}

export function completed(
  walletId: string,
  version: number,
  withdrawalId: string,
  amount: number,
  balance: number,
  held: number,
): WalletEvent {
  return {
    type: 'WithdrawalCompleted',
    data: {
      eventId: uuidv7(),
      walletId,
      withdrawalId,
      amount,
      currency: 'EUR',
      balance,
      held,
      providerReference: 'psp-1',
      version,
      occurredAt: T0 + version * 1_000,
    },
  };
}
