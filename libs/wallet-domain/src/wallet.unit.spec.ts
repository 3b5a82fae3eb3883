import type { WalletEvent } from '@sluice/schemas';
import { decide, evolve, initialWalletState, WalletError, type WalletCommand, type WalletState } from './wallet';

const NOW = Date.UTC(2026, 0, 1);
let ids = 0;
const ctx = { now: NOW, newId: () => `00000000-0000-7000-8000-${String(++ids).padStart(12, '0')}` };
const WALLET = '0190a000-0000-7000-8000-000000000001';

function given(...events: WalletEvent[]): WalletState {
  return events.reduce(evolve, initialWalletState);
}
function when(state: WalletState, command: WalletCommand): WalletEvent[] {
  return decide(command, state, ctx);
}
const opened: WalletEvent = {
  type: 'WalletOpened',
  data: { eventId: 'e1', walletId: WALLET, currency: 'EUR', version: 1, occurredAt: NOW },
};
const deposit = (amount: number, currency = 'EUR'): WalletCommand => ({
  type: 'DepositFunds',
  walletId: WALLET,
  depositId: 'd1',
  amount,
  currency,
});

describe('wallet', () => {
  it('given no wallet, when opened, then WalletOpened at version 1', () => {
    const events = when(given(), { type: 'OpenWallet', walletId: WALLET, currency: 'EUR' });
    expect(events).toEqual([
      { type: 'WalletOpened', data: expect.objectContaining({ walletId: WALLET, currency: 'EUR', version: 1, occurredAt: NOW }) },
    ]);
  });

  it('given an open wallet, when funds are deposited, then the balance and version move on', () => {
    const events = when(given(opened), deposit(1250));
    expect(events).toEqual([
      { type: 'FundsDeposited', data: expect.objectContaining({ amount: 1250, balance: 1250, version: 2, depositId: 'd1' }) },
    ]);
    expect(given(opened, ...events)).toMatchObject({ balance: 1250, version: 2 });
  });

  const openWallet = (currency: string): WalletCommand => ({ type: 'OpenWallet', walletId: WALLET, currency });

  it.each<[string, WalletState, WalletCommand, string]>([
    ['no wallet', given(), deposit(1), 'wallet_not_found'],
    ['an existing wallet opened again', given(opened), openWallet('EUR'), 'wallet_already_exists'],
    ['an unknown currency', given(), openWallet('XYZ'), 'unsupported_currency'],
    ['a zero amount', given(opened), deposit(0), 'invalid_amount'],
    ['a negative amount', given(opened), deposit(-5), 'invalid_amount'],
    ['a fractional amount', given(opened), deposit(1.5), 'invalid_amount'],
    ['another currency', given(opened), deposit(10, 'USD'), 'currency_mismatch'],
  ])('given %s, the command is refused', (_label, state, command, code) => {
    expect(refusal(() => when(state, command))).toBe(code);
  });

  it('given a balance at the largest safe amount, when more is deposited, then it is refused', () => {
    const full = given(opened, ...when(given(opened), deposit(Number.MAX_SAFE_INTEGER)));
    expect(refusal(() => when(full, deposit(1)))).toBe('balance_limit_exceeded');
  });
});

/** The code of the WalletError fn throws; fails the test when it throws nothing. */
function refusal(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof WalletError) return err.code;
    throw err;
  }
  throw new Error('the command was accepted');
}
