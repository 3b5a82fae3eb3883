import { arrayLiteral, columns } from './sql';

describe('array literals for unnest', () => {
  it('writes ids, numbers, timestamps and codes as they are, and nulls as NULL', () => {
    const at = new Date('2025-06-01T10:00:00.000Z');
    expect(arrayLiteral(['01970000-0000-7000-8000-000000000001', 42, at, 'EUR', null, undefined, 7n])).toBe(
      '{01970000-0000-7000-8000-000000000001,42,2025-06-01T10:00:00.000Z,EUR,NULL,NULL,7}',
    );
  });

  it('quotes and escapes any other text, the empty string and the word NULL', () => {
    expect(arrayLiteral(['a b', 'say "hi"', 'back\\slash', '{x,y}', '', 'NULL'])).toBe(
      '{"a b","say \\"hi\\"","back\\\\slash","{x,y}","","NULL"}',
    );
  });

  it('gives one literal per column', () => {
    expect(
      columns(
        [
          { a: 1, b: 'x' },
          { a: 2, b: 'y z' },
        ],
        ['a', 'b'] as const,
      ),
    ).toEqual(['{1,2}', '{x,"y z"}']);
  });
});
