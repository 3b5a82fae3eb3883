import { foldWallets } from '@sluice/projection-wallet';
import type { WalletEvent } from '@sluice/schemas';
import { deposited, opened } from './events';
import { fundsAddedUpcaster, minorUnits, type FundsAdded } from './legacy-deposits';

describe('the FundsAdded upcaster', () => {
  it('reads decimal strings of major units as minor units, exactly', () => {
    expect([minorUnits('12.50'), minorUnits('0.05'), minorUnits('7'), minorUnits('1.5'), minorUnits('1234567.89')]).toEqual([
      1250, 5, 700, 150, 123456789,
    ]);
    expect(() => minorUnits('1.005')).toThrow(RangeError);
    expect(() => minorUnits('-3')).toThrow(RangeError);
  });

  it('given an old deposit, when upcast and folded, then the wallet is as after the same FundsDeposited', () => {
    const w = '01970000-0000-7000-8000-0000000000aa';
    const old: FundsAdded = {
      eventId: '01970000-0000-7000-8000-0000000000bb',
      walletId: w,
      amount: '12.50',
      currency: 'EUR',
      balance: '12.50',
      version: 2,
      occurredAt: 1_750_000_000_000,
    };
    const upcast = fundsAddedUpcaster.upcast(old) as WalletEvent;
    const now = deposited(w, 2, 1_250, 1_250);
    const open = opened(w);

    const viaOld = foldWallets(new Map(), [open, upcast]).changed[0]!;
    const viaNew = foldWallets(new Map(), [open, now]).changed[0]!;

    expect(upcast).toMatchObject({ type: 'FundsDeposited', data: { depositId: old.eventId, amount: 1_250, balance: 1_250 } });
    expect({ balance: viaOld.balance, version: viaOld.version }).toEqual({ balance: viaNew.balance, version: viaNew.version });
  });
});
