import type { Upcaster } from '@sluice/projection-kit';
import type { RecordSchema, WalletEvent } from '@sluice/schemas';

/**
 * A breaking change done right, as a test fixture: deposits were once written
 * as `FundsAdded`, with the amount and the balance as decimal strings of major
 * units ("12.50"). Making FundsDeposited's `amount` a long of minor units in
 * place would break every old event (the registry refuses it), so the change
 * was a new event type; `FundsAdded` stays readable and the wallet projection
 * folds it through this upcaster.
 */
export const FUNDS_ADDED_SCHEMA: RecordSchema = {
  type: 'record',
  name: 'FundsAdded',
  namespace: 'dev.sluice.wallet',
  fields: [
    { name: 'eventId', type: { type: 'string', logicalType: 'uuid' } },
    { name: 'walletId', type: { type: 'string', logicalType: 'uuid' } },
    { name: 'amount', type: 'string', doc: 'Major units, a decimal string with two decimals' },
    { name: 'currency', type: 'string' },
    { name: 'balance', type: 'string', doc: 'Major units after the deposit' },
    { name: 'version', type: 'int' },
    { name: 'occurredAt', type: { type: 'long', logicalType: 'timestamp-millis' } },
  ],
};

export interface FundsAdded {
  eventId: string;
  walletId: string;
  amount: string;
  currency: string;
  balance: string;
  version: number;
  occurredAt: number;
}

/** "12.50" → 1250: exact on the decimal digits, no floating point. */
export function minorUnits(major: string): number {
  const m = /^(\d+)(?:\.(\d{1,2}))?$/.exec(major);
  if (!m) throw new RangeError(`"${major}" is not an amount of major units`);
  return Number(m[1]) * 100 + Number((m[2] ?? '').padEnd(2, '0'));
}

/** FundsAdded → FundsDeposited; the old event had no deposit id, so its event id stands for it (stable across rebuilds). */
export const fundsAddedUpcaster: Upcaster<WalletEvent> = {
  from: 'FundsAdded',
  upcast: (data) => {
    const d = data as FundsAdded;
    return {
      type: 'FundsDeposited',
      data: {
        eventId: d.eventId,
        walletId: d.walletId,
        depositId: d.eventId,
        amount: minorUnits(d.amount),
        currency: d.currency,
        balance: minorUnits(d.balance),
        version: d.version,
        occurredAt: d.occurredAt,
      },
    };
  },
};
