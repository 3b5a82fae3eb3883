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

  it('given no wallet, when opened by a subject, then WalletOpened names it as the owner', () => {
    const events = when(given(), { type: 'OpenWallet', walletId: WALLET, currency: 'EUR', owner: 'alice' });
    expect(events[0]?.data).toMatchObject({ owner: 'alice' });
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

  const W1 = '0190a000-0000-7000-8000-0000000000a1';
  const funded = (amount: number): WalletEvent => ({
    type: 'FundsDeposited',
    data: {
      eventId: 'e2',
      walletId: WALLET,
      depositId: 'd0',
      amount,
      currency: 'EUR',
      balance: amount,
      version: 2,
      occurredAt: NOW,
    },
  });
  const requestWithdrawal = (amount: number, withdrawalId = W1, currency = 'EUR'): WalletCommand => ({
    type: 'RequestWithdrawal',
    walletId: WALLET,
    withdrawalId,
    amount,
    currency,
  });
  const submit: WalletCommand = {
    type: 'MarkWithdrawalSubmitted',
    walletId: WALLET,
    withdrawalId: W1,
    provider: 'psp',
    providerReference: 'p-1',
  };
  const complete: WalletCommand = { type: 'CompleteWithdrawal', walletId: WALLET, withdrawalId: W1, providerReference: 'p-1' };
  const fail: WalletCommand = {
    type: 'FailWithdrawal',
    walletId: WALLET,
    withdrawalId: W1,
    reason: 'declined',
    detail: 'the bank said no',
  };
  function after(events: WalletEvent[], command: WalletCommand): WalletEvent[] {
    return [...events, ...when(given(...events), command)];
  }

  describe('withdrawals', () => {
    it('given 1000 available, when 400 is requested, then it is held: balance stays, held rises, available falls', () => {
      const events = when(given(opened, funded(1000)), requestWithdrawal(400));
      expect(events).toEqual([
        {
          type: 'WithdrawalRequested',
          data: expect.objectContaining({ withdrawalId: W1, amount: 400, balance: 1000, held: 400, version: 3 }),
        },
      ]);
      const state = given(opened, funded(1000), ...events);
      expect(state).toMatchObject({ balance: 1000, held: 400, version: 3 });
      expect(state.status === 'open' && state.withdrawals.get(W1)).toEqual({ amount: 400, status: 'requested' });
    });

    it('given 1000 with 600 held, when 401 is requested, then it is refused as insufficient funds', () => {
      const state = given(...after([opened, funded(1000)], requestWithdrawal(600, 'w-0')));
      expect(refusal(() => when(state, requestWithdrawal(401)))).toBe('insufficient_funds');
      expect(when(state, requestWithdrawal(400))[0]!.data).toMatchObject({ held: 1000, balance: 1000 });
    });

    it('given a requested withdrawal, when submitted then completed, then the held amount leaves the balance', () => {
      const requested = after([opened, funded(1000)], requestWithdrawal(400));
      const submitted = after(requested, submit);
      expect(submitted.at(-1)).toMatchObject({
        type: 'WithdrawalSubmitted',
        data: { provider: 'psp', providerReference: 'p-1', version: 4 },
      });
      const completed = after(submitted, complete);
      expect(completed.at(-1)).toMatchObject({
        type: 'WithdrawalCompleted',
        data: { amount: 400, balance: 600, held: 0, version: 5 },
      });
      expect(given(...completed)).toMatchObject({ balance: 600, held: 0, version: 5 });
    });

    it('given a submitted withdrawal, when it fails, then WithdrawalFailed and WithdrawalCompensated release the hold', () => {
      const submitted = after(after([opened, funded(1000)], requestWithdrawal(400)), submit);
      const events = when(given(...submitted), fail);
      expect(events.map((e) => e.type)).toEqual(['WithdrawalFailed', 'WithdrawalCompensated']);
      expect(events.map((e) => e.data.version)).toEqual([5, 6]);
      expect(events[1]!.data).toMatchObject({ amount: 400, balance: 1000, held: 0 });
      const state = given(...submitted, ...events);
      expect(state).toMatchObject({ balance: 1000, held: 0, version: 6 });
      expect(state.status === 'open' && state.withdrawals.get(W1)?.status).toBe('compensated');
    });

    it('given a requested withdrawal, when the provider confirms before the submission is recorded, then it completes', () => {
      const events = when(given(...after([opened, funded(1000)], requestWithdrawal(400))), complete);
      expect(events).toEqual([{ type: 'WithdrawalCompleted', data: expect.objectContaining({ balance: 600, held: 0 }) }]);
    });

    it.each<[string, WalletCommand[], WalletCommand]>([
      ['submitted twice', [submit], submit],
      ['completed twice', [complete], complete],
      ['submitted after completion', [complete], submit],
      ['failed twice', [fail], fail],
    ])('given a withdrawal %s, the repeat changes nothing', (_label, before, command) => {
      let events = after([opened, funded(1000)], requestWithdrawal(400));
      for (const c of before) events = after(events, c);
      expect(when(given(...events), command)).toEqual([]);
    });

    it.each<[string, WalletCommand[], WalletCommand, string]>([
      ['a completed withdrawal that fails', [complete], fail, 'withdrawal_not_pending'],
      ['a failed withdrawal that completes', [fail], complete, 'withdrawal_not_pending'],
      ['a failed withdrawal that is submitted', [fail], submit, 'withdrawal_not_pending'],
      ['the same withdrawal id requested again', [], requestWithdrawal(1), 'withdrawal_already_exists'],
    ])('given %s, the command is refused', (_label, before, command, code) => {
      let events = after([opened, funded(1000)], requestWithdrawal(400));
      for (const c of before) events = after(events, c);
      expect(refusal(() => when(given(...events), command))).toBe(code);
    });

    it.each<[string, WalletState, WalletCommand, string]>([
      ['no wallet', given(), requestWithdrawal(1), 'wallet_not_found'],
      ['a zero amount', given(opened, funded(10)), requestWithdrawal(0), 'invalid_amount'],
      ['another currency', given(opened, funded(10)), requestWithdrawal(1, W1, 'USD'), 'currency_mismatch'],
      ['an empty wallet', given(opened), requestWithdrawal(1), 'insufficient_funds'],
      ['an unknown withdrawal', given(opened, funded(10)), complete, 'withdrawal_not_found'],
    ])('given %s, the withdrawal command is refused', (_label, state, command, code) => {
      expect(refusal(() => when(state, command))).toBe(code);
    });

    it('given 1000, when 50 is requested 25 times in a row, then exactly 20 are held and available never goes below zero', () => {
      let events: WalletEvent[] = [opened, funded(1000)];
      let accepted = 0;
      for (let i = 0; i < 25; i++) {
        try {
          events = after(events, requestWithdrawal(50, `w-${i}`));
          accepted++;
        } catch (err) {
          expect(err).toBeInstanceOf(WalletError);
        }
      }
      expect(accepted).toBe(20);
      expect(given(...events)).toMatchObject({ balance: 1000, held: 1000 });
    });
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
