import { planGuard, type GuardInput, type Poison } from './guard';

const A = 'wallet-a';
const B = 'wallet-b';
let offset = 0n;
const event = (id: string, version: number, folded = true): GuardInput => ({
  offset: offset++,
  parkingKey: id,
  position: { id, version },
  folded,
});
const garbage = (key: string): GuardInput => ({
  offset: offset++,
  parkingKey: key,
  undecodable: { code: 'bad_wire_format', detail: 'not avro' },
  position: undefined,
  folded: false,
});

/** given the heads and parked keys, when the records arrive, the verdict kinds and moved heads. */
function given(heads: Record<string, number>, parked: string[] = [], poisoned = new Map<bigint, Poison>(), baseline = false) {
  return {
    when: (records: GuardInput[]) => {
      const plan = planGuard(records, new Map(Object.entries(heads)), new Set(parked), poisoned, baseline);
      return {
        kinds: plan.verdicts.map((v) => (v.kind === 'dead' ? `dead:${v.code}` : v.kind)),
        heads: Object.fromEntries(plan.heads),
      };
    },
  };
}

beforeEach(() => {
  offset = 0n;
});

describe('version guard and per-key parking', () => {
  it('given no head, when versions 1, 2, 3 arrive, then all are folded and the head moves to 3', () => {
    expect(given({}).when([event(A, 1), event(A, 2), event(A, 3)])).toEqual({
      kinds: ['fold', 'fold', 'fold'],
      heads: { [A]: 3 },
    });
  });

  it('given a head at 3, when version 2 is delivered again, then it is a duplicate and nothing moves', () => {
    expect(given({ [A]: 3 }).when([event(A, 2)])).toEqual({ kinds: ['duplicate'], heads: {} });
  });

  it('given a head at 1, when version 3 skips 2, then it is parked as a gap and the later events of its key are held', () => {
    expect(given({ [A]: 1 }).when([event(A, 3), event(A, 4), event(B, 1)])).toEqual({
      kinds: ['dead:version_gap', 'held', 'fold'],
      heads: { [B]: 1 },
    });
  });

  it('given a key with a parked record, when its next events arrive, then they are held and other keys flow', () => {
    expect(given({ [A]: 2 }, [A]).when([event(A, 3), event(B, 1)])).toEqual({ kinds: ['held', 'fold'], heads: { [B]: 1 } });
  });

  it('given an event of a type the projection does not fold, then only the head moves', () => {
    expect(given({ [A]: 1 }).when([event(A, 2, false), event(A, 3)])).toEqual({ kinds: ['pass', 'fold'], heads: { [A]: 3 } });
  });

  it('given an undecodable record, then it is parked and its key held', () => {
    expect(given({}).when([garbage(A), event(A, 1), event(B, 1)])).toEqual({
      kinds: ['dead:bad_wire_format', 'held', 'fold'],
      heads: { [B]: 1 },
    });
  });

  it('given an event the projection rejected, when planned again, then it is parked with its reason and the rest of its key held', () => {
    const poisoned = new Map<bigint, Poison>([[1n, { code: 'balance_mismatch', detail: 'x', attempts: 1 }]]);
    expect(given({}, [], poisoned).when([event(A, 1), event(A, 2), event(A, 3)])).toEqual({
      kinds: ['fold', 'dead:balance_mismatch', 'held'],
      heads: { [A]: 1 },
    });
  });

  it('given a version started mid-stream, when an aggregate without a head shows up at version 40, then that is its start', () => {
    expect(given({}, [], new Map(), true).when([event(A, 40), event(A, 41), event(A, 43)])).toEqual({
      kinds: ['fold', 'fold', 'dead:version_gap'],
      heads: { [A]: 41 },
    });
  });

  it('given an event with version 0, then it is parked as invalid rather than taken for a duplicate', () => {
    expect(given({}).when([event(A, 0)]).kinds).toEqual(['dead:invalid_version']);
  });
});
