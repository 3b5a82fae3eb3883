import { murmur2, partitionForKey } from './murmur2';

describe('murmur2', () => {
  // Golden vectors from Apache Kafka's own test (clients/.../utils/UtilsTest.java, testMurmur2).
  it.each([
    ['21', -973932308],
    ['foobar', -790332482],
    ['a-little-bit-long-string', -985981536],
    ['a-little-bit-longer-string', -1486304829],
    ['lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', -58897971],
    ['abc', 479470107],
  ])('hashes %j as the Java client does', (input, expected) => {
    expect(murmur2(Buffer.from(input, 'utf8'))).toBe(expected);
  });

  it('puts a key on toPositive(murmur2) % partitions, as the Java producer does', () => {
    // -790332482 & 0x7fffffff = 1357151166
    expect(partitionForKey('foobar', 10)).toBe(1357151166 % 10);
    expect(partitionForKey('foobar', 12)).toBe(1357151166 % 12);
    expect(partitionForKey(Buffer.from('foobar'), 12)).toBe(partitionForKey('foobar', 12));
  });

  it('refuses a partition count below one', () => {
    expect(() => partitionForKey('k', 0)).toThrow(RangeError);
  });
});
