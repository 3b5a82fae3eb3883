import { zonedFromUtcText } from './polling-source';

describe('polling mode timestamps', () => {
  it.each([
    ['2026-01-01 00:00:00.5+00', '2026-01-01T00:00:00.500000Z'],
    ['2026-01-01 00:00:00+00', '2026-01-01T00:00:00.000000Z'],
    ['2026-11-27 01:02:03.123456+00', '2026-11-27T01:02:03.123456Z'],
  ])('%s reads as Debezium writes it: %s', (text, zoned) => {
    expect(zonedFromUtcText(text)).toBe(zoned);
  });

  it('refuses a timestamp that is not in UTC', () => {
    expect(() => zonedFromUtcText('2026-01-01 00:00:00+02')).toThrow(/UTC/);
  });
});
