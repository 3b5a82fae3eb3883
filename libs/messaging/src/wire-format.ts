import { SluiceError } from '@sluice/core';

/** Confluent wire format: magic byte 0, schema id (int32 big-endian), payload. */
export const MAGIC_BYTE = 0;
export const HEADER_SIZE = 5;

export function frame(schemaId: number, payload: Buffer): Buffer {
  const out = Buffer.allocUnsafe(HEADER_SIZE + payload.length);
  out.writeUInt8(MAGIC_BYTE, 0);
  out.writeInt32BE(schemaId, 1);
  payload.copy(out, HEADER_SIZE);
  return out;
}

export function unframe(buf: Buffer): { schemaId: number; payload: Buffer } {
  if (buf.length < HEADER_SIZE || buf.readUInt8(0) !== MAGIC_BYTE) {
    throw new SluiceError('bad_wire_format', 'value is not in the Confluent wire format (magic byte 0 + schema id)');
  }
  return { schemaId: buf.readInt32BE(1), payload: buf.subarray(HEADER_SIZE) };
}
