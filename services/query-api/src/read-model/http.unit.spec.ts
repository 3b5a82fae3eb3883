import { etagOf, matches, preferredWaitMs } from './http';

describe('conditional reads', () => {
  it('gives the same body the same strong ETag and another body another one', () => {
    expect(etagOf('{"a":1}')).toBe(etagOf('{"a":1}'));
    expect(etagOf('{"a":1}')).not.toBe(etagOf('{"a":2}'));
    expect(etagOf('{"a":1}')).toMatch(/^"[A-Za-z0-9_-]{22}"$/);
  });

  it('matches If-None-Match lists, weak tags and *', () => {
    const tag = etagOf('x');
    expect(matches(`"other", ${tag}`, tag)).toBe(true);
    expect(matches(`W/${tag}`, tag)).toBe(true);
    expect(matches('*', tag)).toBe(true);
    expect(matches('"other"', tag)).toBe(false);
    expect(matches(undefined, tag)).toBe(false);
  });

  it('reads Prefer: wait=<seconds>', () => {
    expect(preferredWaitMs({ prefer: 'wait=1' })).toBe(1_000);
    expect(preferredWaitMs({ prefer: 'return=minimal, wait=0' })).toBe(0);
    expect(preferredWaitMs({})).toBeUndefined();
  });
});
