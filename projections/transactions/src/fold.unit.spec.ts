import type { WalletEvent } from '@sluice/schemas';
import { foldTransaction } from './fold';

const WALLET = '01970000-0000-7000-8000-000000000001';
const W = '01970000-0000-7000-8000-0000000000aa';
const T0 = Date.parse('2025-06-01T10:00:00.000Z');
const at = (version: number) => ({
  eventId: `01970000-0000-7000-8000-00000000010${version}`,
  version,
  occurredAt: T0 + version * 1_000,
});
const money = { walletId: WALLET, withdrawalId: W, currency: 'EUR' };

/** when `event` is folded, the result. */
const when = (event: WalletEvent) => foldTransaction(event);

describe('transaction history fold', () => {
  it('given a deposit, then one deposit item carrying the amount, the balance after and the deposit id', () => {
    const deposit: WalletEvent = {
      type: 'FundsDeposited',
      data: { ...at(2), walletId: WALLET, depositId: 'd-2', amount: 1_250, currency: 'EUR', balance: 1_250 },
    };
    expect(when(deposit)).toEqual({
      kind: 'item',
      item: {
        walletId: WALLET,
        version: 2,
        type: 'deposit',
        amount: 1_250,
        currency: 'EUR',
        balance: 1_250,
        reference: 'd-2',
        eventId: at(2).eventId,
        occurredAt: new Date(T0 + 2_000),
      },
    });
  });

  it('given a withdrawal requested, then a withdrawal_hold item with the balance unchanged', () => {
    const event: WalletEvent = {
      type: 'WithdrawalRequested',
      data: { ...money, ...at(3), amount: 300, balance: 1_000, held: 300 },
    };
    expect(when(event)).toMatchObject({
      kind: 'item',
      item: { type: 'withdrawal_hold', amount: 300, balance: 1_000, reference: W },
    });
  });

  it('given a withdrawal completed, then a withdrawal item with the balance after the payout', () => {
    const event: WalletEvent = {
      type: 'WithdrawalCompleted',
      data: { ...money, ...at(5), amount: 300, balance: 700, held: 0, providerReference: 'psp-1' },
    };
    expect(when(event)).toMatchObject({ kind: 'item', item: { type: 'withdrawal', amount: 300, balance: 700, version: 5 } });
  });

  it('given a withdrawal compensated, then a withdrawal_release item', () => {
    const event: WalletEvent = {
      type: 'WithdrawalCompensated',
      data: { ...money, ...at(6), amount: 300, balance: 1_000, held: 0 },
    };
    expect(when(event)).toMatchObject({ kind: 'item', item: { type: 'withdrawal_release', amount: 300 } });
  });

  it.each<WalletEvent>([
    { type: 'WalletOpened', data: { ...at(1), walletId: WALLET, currency: 'EUR' } },
    { type: 'WithdrawalSubmitted', data: { ...money, ...at(4), provider: 'psp', providerReference: null } },
    { type: 'WithdrawalFailed', data: { ...money, ...at(4), reason: 'declined', detail: 'the provider declined' } },
  ])('given $type, which moves no money, then no item', (event) => {
    expect(when(event)).toEqual({ kind: 'none' });
  });

  it('given a deposit of zero, then it is rejected rather than written as a line that moved nothing', () => {
    const deposit: WalletEvent = {
      type: 'FundsDeposited',
      data: { ...at(2), walletId: WALLET, depositId: 'd-2', amount: 0, currency: 'EUR', balance: 0 },
    };
    expect(when(deposit)).toMatchObject({ kind: 'rejected', reason: 'invalid_amount' });
  });
});
