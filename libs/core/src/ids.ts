import { randomFillSync } from 'node:crypto';

/**
 * UUID version 7 (RFC 9562): 48-bit Unix milliseconds, then random bits. Ids
 * made in the same millisecond by one process stay ordered through a counter in
 * rand_a, so primary-key indexes grow at their right edge.
 */
let lastMs = -1;
let counter = 0;

/** Random bytes drawn 4 KiB at a time: one system call per 256 ids instead of one per id. */
const entropy = Buffer.alloc(4096);
let entropyOffset = entropy.length;

function random16(): Buffer {
  if (entropyOffset + 16 > entropy.length) {
    randomFillSync(entropy);
    entropyOffset = 0;
  }
  const bytes = Buffer.allocUnsafe(16);
  entropy.copy(bytes, 0, entropyOffset, entropyOffset + 16);
  entropyOffset += 16;
  return bytes;
}

export function uuidv7(now: number = Date.now()): string {
  const bytes = random16();
  if (now <= lastMs) {
    counter = (counter + 1) & 0xfff;
    if (counter === 0) lastMs += 1; // 4096 ids in one millisecond: borrow the next one
    now = lastMs;
  } else {
    lastMs = now;
    counter = bytes.readUInt16BE(6) & 0x7ff; // random start, leaving room to count up
  }
  bytes.writeUIntBE(now, 0, 6);
  bytes[6] = 0x70 | (counter >> 8);
  bytes[7] = counter & 0xff;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

export const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
