import { UUID_PATTERN, uuidv7 } from './ids';

describe('uuidv7', () => {
  it('is a version 7, RFC 9562 variant UUID carrying the time', () => {
    const now = Date.UTC(2026, 10, 27, 12, 0, 0);
    const id = uuidv7(now);
    expect(id).toMatch(UUID_PATTERN);
    expect(id[14]).toBe('7');
    expect(['8', '9', 'a', 'b']).toContain(id[19]);
    expect(parseInt(id.replace(/-/g, '').slice(0, 12), 16)).toBe(now);
  });

  it('stays ordered within one millisecond', () => {
    const now = Date.now() + 10_000;
    const ids = Array.from({ length: 1000 }, () => uuidv7(now));
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('draws fresh random bits for every id across refills of its entropy pool', () => {
    // 1,000 ids over many milliseconds cross several 256-id refills: the random tails never repeat.
    const tails = Array.from({ length: 1000 }, (_, i) => uuidv7(Date.UTC(2030, 0, 1) + i * 5).slice(19));
    expect(new Set(tails).size).toBe(tails.length);
  });
});
