import { frame, unframe } from './wire-format';

describe('Confluent wire format', () => {
  it('frames a payload as magic byte 0, big-endian schema id, payload', () => {
    const framed = frame(258, Buffer.from([7, 8]));
    expect([...framed]).toEqual([0, 0, 0, 1, 2, 7, 8]);
    expect(unframe(framed)).toEqual({ schemaId: 258, payload: Buffer.from([7, 8]) });
  });

  it('rejects values without the magic byte', () => {
    expect(() => unframe(Buffer.from([1, 0, 0, 0, 1, 9]))).toThrow(/wire format/);
    expect(() => unframe(Buffer.from([0, 0]))).toThrow(/wire format/);
  });
});
