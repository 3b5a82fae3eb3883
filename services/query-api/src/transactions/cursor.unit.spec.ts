import { ProblemError } from '@sluice/http';
import { decodeCursor, encodeCursor } from './cursor';

describe('history cursor', () => {
  const W = '01970000-0000-7000-8000-000000000001';

  it('round-trips the version the next page starts below', () => {
    expect(decodeCursor(encodeCursor(W, 42), W)).toBe(42);
  });

  it.each([
    ['garbage', 'not-a-cursor'],
    ['another wallet', encodeCursor('01970000-0000-7000-8000-000000000002', 5)],
    ['a version that is not a positive integer', Buffer.from(JSON.stringify({ w: W, v: 0 })).toString('base64url')],
  ])('refuses %s with 400 invalid_cursor', (_, cursor) => {
    expect(() => decodeCursor(cursor, W)).toThrow(ProblemError);
    try {
      decodeCursor(cursor, W);
    } catch (err) {
      expect((err as ProblemError).code).toBe('invalid_cursor');
      expect((err as ProblemError).status).toBe(400);
    }
  });
});
