import { foldWallets } from './fold';
import { simulateWalletHistories } from './simulate';

describe('simulated wallet histories', () => {
  it('given a seed, then the same events every time', () => {
    expect(simulateWalletHistories({ seed: 7, wallets: 5, events: 50 })).toEqual(
      simulateWalletHistories({ seed: 7, wallets: 5, events: 50 }),
    );
  });

  it('given many events, then every event folds: versions, balances and holds stay consistent and every event type appears', () => {
    const events = simulateWalletHistories({ seed: 42, wallets: 20, events: 3_000 });
    const { results } = foldWallets(new Map(), events);
    expect(results.filter((r) => r.kind !== 'applied')).toEqual([]);
    expect(new Set(events.map((e) => e.type))).toEqual(
      new Set([
        'WalletOpened',
        'FundsDeposited',
        'WithdrawalRequested',
        'WithdrawalSubmitted',
        'WithdrawalCompleted',
        'WithdrawalFailed',
        'WithdrawalCompensated',
      ]),
    );
  });
});
