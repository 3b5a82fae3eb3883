import { binaryToString, PG_TYPES } from './binary-values';
import { PG_EPOCH_MS } from './decoder';

/** A timestamptz in pgoutput's binary form: microseconds since 2000-01-01 UTC. */
function timestamptz(isoMillis: string, extraMicros = 0): Buffer {
  const buf = Buffer.alloc(8);
  buf.writeBigInt64BE(BigInt(Date.parse(isoMillis) - PG_EPOCH_MS) * 1000n + BigInt(extraMicros));
  return buf;
}

describe('binaryToString', () => {
  // The first four are what Debezium 3.6's PostgreSQL connector put in the header for the same rows;
  // the last is just before PostgreSQL's epoch (negative microseconds).
  it.each([
    ['2026-01-01T00:00:00.500Z', 0, '2026-01-01T00:00:00.500000Z'],
    ['2026-01-01T00:00:00.000Z', 0, '2026-01-01T00:00:00.000000Z'],
    ['2025-12-31T22:00:00.000Z', 120, '2025-12-31T22:00:00.000120Z'],
    ['1969-12-31T23:59:59.999Z', 999, '1969-12-31T23:59:59.999999Z'],
    ['1999-12-31T23:59:59.000Z', 1, '1999-12-31T23:59:59.000001Z'],
  ])('renders timestamptz %s (+%i µs) as Debezium does', (iso, micros, expected) => {
    expect(binaryToString(PG_TYPES.timestamptz, timestamptz(iso, micros))).toBe(expected);
  });
});
