/**
 * Log sequence numbers are 64-bit WAL positions, written "XXXXXXXX/XXXXXXXX".
 * They are bigints here: a JS number loses precision past 2^53 bytes of WAL.
 */
export type Lsn = bigint;

export function parseLsn(text: string): Lsn {
  const m = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/.exec(text);
  if (!m) throw new RangeError(`not an LSN: ${text}`);
  return (BigInt(`0x${m[1]!}`) << 32n) | BigInt(`0x${m[2]!}`);
}

export function formatLsn(lsn: Lsn): string {
  return `${(lsn >> 32n).toString(16).toUpperCase()}/${(lsn & 0xffffffffn).toString(16).toUpperCase()}`;
}
