import type { DecodedEventLike, ProjectionDefinition } from './projection';
import { withUpcasters, type Upcaster } from './upcast';

/** A projection of credits: today's event carries minor units; an older type carried a decimal string of major units. */
type Credited = { type: 'Credited'; data: { accountId: string; version: number; amountMinor: number } };

const credits: ProjectionDefinition<Credited> = {
  name: 'credits',
  description: 'credits per account',
  aggregateType: 'account',
  eventTypes: ['Credited'],
  tables: [],
  migrations: { folder: '' },
  partialHistory: false,
  position: (e) => {
    const d = e.data as { accountId?: unknown; version?: unknown };
    return typeof d.accountId === 'string' && typeof d.version === 'number' ? { id: d.accountId, version: d.version } : undefined;
  },
  accept: (e) => (e.type === 'Credited' ? (e as Credited) : undefined),
  apply: async () => [],
};

const fromMajorUnits: Upcaster<Credited> = {
  from: 'CreditedMajor',
  upcast: (data) => {
    const d = data as { account: string; version: number; amount: string };
    return {
      type: 'Credited',
      data: { accountId: d.account, version: d.version, amountMinor: Math.round(Number(d.amount) * 100) },
    };
  },
};

const old: DecodedEventLike = { type: 'CreditedMajor', data: { account: 'a1', version: 3, amount: '12.50' } };

describe('a projection with upcasters', () => {
  it('given an event of the old type, when accepted, then it is the current event with the same meaning', () => {
    const def = withUpcasters(credits, [fromMajorUnits]);
    expect(def.accept(old)).toEqual({ type: 'Credited', data: { accountId: 'a1', version: 3, amountMinor: 1250 } });
  });

  it('given an event of the old type, then its aggregate and version are read from the upcast event', () => {
    expect(withUpcasters(credits, [fromMajorUnits]).position(old)).toEqual({ id: 'a1', version: 3 });
    // Without the upcaster the old shape names no aggregate at all.
    expect(credits.position(old)).toBeUndefined();
  });

  it('given an event of the current type or of a type nobody folds, then it passes unchanged', () => {
    const def = withUpcasters(credits, [fromMajorUnits]);
    const now: Credited = { type: 'Credited', data: { accountId: 'a1', version: 4, amountMinor: 7 } };
    expect(def.accept(now)).toBe(now);
    expect(def.accept({ type: 'Closed', data: {} })).toBeUndefined();
  });

  it('follows a chain of upcasters from the oldest type to the current one', () => {
    const fromCents: Upcaster<Credited> = {
      from: 'CreditedCents',
      upcast: (data) => {
        const d = data as { account: string; version: number; cents: number };
        return { type: 'CreditedMajor', data: { account: d.account, version: d.version, amount: (d.cents / 100).toFixed(2) } };
      },
    };
    const def = withUpcasters(credits, [fromMajorUnits, fromCents]);
    expect(def.accept({ type: 'CreditedCents', data: { account: 'a2', version: 1, cents: 305 } })).toEqual({
      type: 'Credited',
      data: { accountId: 'a2', version: 1, amountMinor: 305 },
    });
  });

  it('adds the old types to the event types it folds', () => {
    expect(withUpcasters(credits, [fromMajorUnits]).eventTypes).toEqual(['Credited', 'CreditedMajor']);
  });

  it('refuses an upcaster from a type the projection folds itself, two from one type, and a loop', () => {
    const shadow: Upcaster<Credited> = { from: 'Credited', upcast: (d) => d as Credited };
    expect(() => withUpcasters(credits, [shadow])).toThrow(/must not shadow/);
    expect(() => withUpcasters(credits, [fromMajorUnits, fromMajorUnits])).toThrow(/two upcasters/);
    const loop: Upcaster<Credited>[] = [
      { from: 'A', upcast: () => ({ type: 'B', data: {} }) },
      { from: 'B', upcast: () => ({ type: 'A', data: {} }) },
    ];
    expect(() => withUpcasters(credits, loop).accept({ type: 'A', data: {} })).toThrow(/does not end/);
  });
});
