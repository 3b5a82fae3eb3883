import type { FundsDeposited, WalletEvent, WalletOpened } from '@sluice/schemas';
import { foldWallet, foldWallets, type WalletFoldResult, type WalletView } from './fold';

const WALLET = '01970000-0000-7000-8000-000000000001';
const OTHER = '01970000-0000-7000-8000-000000000002';
const T0 = Date.parse('2025-06-01T10:00:00.000Z');

function opened(over: Partial<WalletOpened> = {}): WalletEvent {
  return {
    type: 'WalletOpened',
    data: {
      eventId: `e-open-${over.walletId ?? WALLET}`,
      walletId: WALLET,
      currency: 'EUR',
      version: 1,
      occurredAt: T0,
      ...over,
    },
  };
}

function deposited(version: number, amount: number, balance: number, over: Partial<FundsDeposited> = {}): WalletEvent {
  return {
    type: 'FundsDeposited',
    data: {
      eventId: `e-dep-${version}`,
      walletId: WALLET,
      depositId: `d-${version}`,
      amount,
      currency: 'EUR',
      balance,
      version,
      occurredAt: T0 + version * 1_000,
      ...over,
    },
  };
}

/** given the events already folded, when `event` arrives, the result. */
function given(history: WalletEvent[]): { when: (event: WalletEvent) => WalletFoldResult } {
  let row: WalletView | undefined;
  for (const e of history) {
    const r = foldWallet(row, e);
    if (r.kind !== 'applied') throw new Error(`history does not fold: ${JSON.stringify(r)}`);
    row = r.row;
  }
  return { when: (event) => foldWallet(row, event) };
}

describe('wallet fold', () => {
  it('given no wallet, when WalletOpened v1, then a zero-balance row at version 1, owned by the subject that opened it', () => {
    expect(given([]).when(opened({ owner: 'alice' }))).toEqual({
      kind: 'applied',
      row: {
        walletId: WALLET,
        currency: 'EUR',
        owner: 'alice',
        balance: 0,
        held: 0,
        version: 1,
        openedAt: new Date(T0),
        updatedAt: new Date(T0),
        lastEventId: `e-open-${WALLET}`,
      },
    });
  });

  it('given no wallet, when a WalletOpened written before owners (no owner field) is folded, then the row has no owner', () => {
    expect(given([]).when(opened())).toMatchObject({ kind: 'applied', row: { owner: null } });
  });

  it('given an open wallet, when FundsDeposited v2, then balance and version follow the event', () => {
    const result = given([opened()]).when(deposited(2, 1250, 1250));
    expect(result).toMatchObject({
      kind: 'applied',
      row: { balance: 1250, version: 2, openedAt: new Date(T0), updatedAt: new Date(T0 + 2_000), lastEventId: 'e-dep-2' },
    });
  });

  it('given a wallet at v3, when FundsDeposited v2 arrives again, then it is a duplicate', () => {
    const result = given([opened(), deposited(2, 100, 100), deposited(3, 50, 150)]).when(deposited(2, 100, 100));
    expect(result).toEqual({ kind: 'duplicate', currentVersion: 3 });
  });

  it('given an open wallet, when WalletOpened v1 is redelivered, then it is a duplicate', () => {
    expect(given([opened()]).when(opened())).toEqual({ kind: 'duplicate', currentVersion: 1 });
  });

  it('given a wallet at v1, when FundsDeposited v3 skips v2, then it is rejected as a gap', () => {
    expect(given([opened()]).when(deposited(3, 100, 100))).toMatchObject({ kind: 'rejected', reason: 'version_gap' });
  });

  it('given no wallet, when FundsDeposited arrives first, then it is rejected as a gap', () => {
    expect(given([]).when(deposited(2, 100, 100))).toMatchObject({ kind: 'rejected', reason: 'version_gap' });
  });

  it('given no wallet, when FundsDeposited claims version 1, then it is rejected as a gap, not applied onto nothing', () => {
    expect(given([]).when(deposited(1, 100, 100))).toMatchObject({ kind: 'rejected', reason: 'version_gap' });
  });

  it('given no wallet, when WalletOpened carries version 2, then it is rejected as an invalid version', () => {
    expect(given([]).when(opened({ version: 2 }))).toMatchObject({ kind: 'rejected', reason: 'invalid_version' });
  });

  it('given no wallet, when an event carries version 0, then it is rejected, not taken for a duplicate', () => {
    expect(given([]).when(opened({ version: 0 }))).toMatchObject({ kind: 'rejected', reason: 'invalid_version' });
  });

  it('given a EUR wallet, when FundsDeposited in USD, then it is rejected as a currency mismatch', () => {
    expect(given([opened()]).when(deposited(2, 100, 100, { currency: 'USD' }))).toMatchObject({
      kind: 'rejected',
      reason: 'currency_mismatch',
    });
  });

  it('given a wallet holding 100, when FundsDeposited of 50 says balance 500, then it is rejected as a balance mismatch', () => {
    expect(given([opened(), deposited(2, 100, 100)]).when(deposited(3, 50, 500))).toMatchObject({
      kind: 'rejected',
      reason: 'balance_mismatch',
    });
  });

  describe('foldWallets over a batch', () => {
    it('given no rows, when a batch opens and funds two wallets with a redelivery, then one final row per wallet', () => {
      const other = (e: WalletEvent): WalletEvent => ({ ...e, data: { ...e.data, walletId: OTHER } }) as WalletEvent;
      const batch = [
        opened(),
        other(opened({ walletId: OTHER })),
        deposited(2, 10, 10),
        deposited(2, 10, 10),
        other(deposited(2, 7, 7)),
      ];

      const { results, changed } = foldWallets(new Map(), batch);

      expect(results.map((r) => r.kind)).toEqual(['applied', 'applied', 'applied', 'duplicate', 'applied']);
      expect(changed.map((r) => [r.walletId, r.balance, r.version]).sort()).toEqual(
        [
          [WALLET, 10, 2],
          [OTHER, 7, 2],
        ].sort(),
      );
    });

    it('given a stored row, when the batch holds only older events, then nothing changes', () => {
      const first = foldWallet(undefined, opened());
      if (first.kind !== 'applied') throw new Error('setup');
      const second = foldWallet(first.row, deposited(2, 5, 5));
      if (second.kind !== 'applied') throw new Error('setup');

      const { results, changed } = foldWallets(new Map([[WALLET, second.row]]), [opened(), deposited(2, 5, 5)]);

      expect(results.map((r) => r.kind)).toEqual(['duplicate', 'duplicate']);
      expect(changed).toEqual([]);
    });

    it('given a gap mid-batch, when later events of the same wallet follow, then they are all gaps and the row keeps its last good version', () => {
      const { results, changed } = foldWallets(new Map(), [opened(), deposited(3, 5, 5), deposited(4, 5, 10)]);

      expect(results.map((r) => (r.kind === 'rejected' ? r.reason : r.kind))).toEqual(['applied', 'version_gap', 'version_gap']);
      expect(changed).toMatchObject([{ walletId: WALLET, version: 1, balance: 0 }]);
    });
  });
});

describe('wallet fold: withdrawals', () => {
  const W = '01970000-0000-7000-8000-0000000000aa';
  const base = { walletId: WALLET, withdrawalId: W, currency: 'EUR' };
  const at = (version: number) => ({ eventId: `e-w-${version}`, version, occurredAt: T0 + version * 1_000 });
  const requested = (version: number, amount: number, balance: number, held: number): WalletEvent => ({
    type: 'WithdrawalRequested',
    data: { ...base, ...at(version), amount, balance, held },
  });
  const history = [opened(), deposited(2, 1_000, 1_000)];

  it('given a balance of 1000, when 300 is requested, then 300 is held and the balance is unchanged', () => {
    expect(given(history).when(requested(3, 300, 1_000, 300))).toMatchObject({
      kind: 'applied',
      row: { balance: 1_000, held: 300, version: 3 },
    });
  });

  it('given a held withdrawal, when it completes, then balance and held both drop by its amount', () => {
    const completed: WalletEvent = {
      type: 'WithdrawalCompleted',
      data: { ...base, ...at(5), amount: 300, balance: 700, held: 0, providerReference: 'psp-1' },
    };
    const submitted: WalletEvent = {
      type: 'WithdrawalSubmitted',
      data: { ...base, ...at(4), provider: 'psp-sim', providerReference: null },
    };
    expect(given([...history, requested(3, 300, 1_000, 300), submitted]).when(completed)).toMatchObject({
      kind: 'applied',
      row: { balance: 700, held: 0, version: 5 },
    });
  });

  it('given a failed withdrawal, when it is compensated, then the hold is released and the balance kept', () => {
    const failed: WalletEvent = { type: 'WithdrawalFailed', data: { ...base, ...at(4), reason: 'declined', detail: 'no' } };
    const compensated: WalletEvent = {
      type: 'WithdrawalCompensated',
      data: { ...base, ...at(5), amount: 300, balance: 1_000, held: 0 },
    };
    expect(given([...history, requested(3, 300, 1_000, 300), failed]).when(compensated)).toMatchObject({
      kind: 'applied',
      row: { balance: 1_000, held: 0, version: 5 },
    });
  });

  it('rejects a withdrawal whose held amount does not follow from the row', () => {
    expect(given(history).when(requested(3, 300, 1_000, 999))).toMatchObject({ kind: 'rejected', reason: 'balance_mismatch' });
  });
});
