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
    expect(events).toEqual([{ type: 'WalletOpened', data: expect.objectContaining({ walletId: WALLET, currency: 'EUR', version: 1, occurredAt: NOW }) }]);
  });

  it('given an open wallet, when funds are deposited, then the balance and version move on', () => {
    const events = when(given(opened), deposit(1250));
    expect(events).toEqual([
      { type: 'FundsDeposited', data: expect.objectContaining({ amount: 1250, balance: 1250, version: 2, depositId: 'd1' }) },
    ]);
    expect(given(opened, ...events)).toMatchObject({ balance: 1250, version: 2 });
  });

  it.each([
    ['no wallet', given(), deposit(1), 'wallet_not_found'],
    ['an existing wallet opened again', given(opened), { type: 'OpenWallet', walletId: WALLET, currency: 'EUR' } as WalletCommand, 'wallet_already_exists'],
    ['an unknown currency', given(), { type: 'OpenWallet', walletId: WALLET, currency: 'XYZ' } as WalletCommand, 'unsupported_currency'],
    ['a zero amount', given(opened), deposit(0), 'invalid_amount'],
    ['a negative amount', given(opened), deposit(-5), 'invalid_amount'],
    ['a fractional amount', given(opened), deposit(1.5), 'invalid_amount'],
    ['another currency', given(opened), deposit(10, 'USD'), 'currency_mismatch'],
    ['a balance past the safe range', given(opened), deposit(Number.MAX_SAFE_INTEGER), undefined],
  ])('given %s, the command is refused', (_label, state, command, code) => {
    if (code === undefined) {
      // MAX_SAFE_INTEGER onto a zero balance is still safe; a second one is not.
      const first = when(state, command);
      expect(() => when(given(opened, ...first), deposit(1))).toThrow(expect.objectContaining({ code: 'balance_limit_exceeded' }));
      return;
    }
    expect(() => when(state, command)).toThrow(WalletError);
    expect(() => when(state, command)).toThrow(expect.objectContaining({ code }));
  });
});
