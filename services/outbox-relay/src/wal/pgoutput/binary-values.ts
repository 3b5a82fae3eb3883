import { PG_EPOCH_MS, pgTimeToMs } from './decoder';

/** Type oids of the column types an outbox row may use (pg_type.oid). */
export const PG_TYPES = {
  bytea: 17,
  int8: 20,
  int4: 23,
  text: 25,
  bpchar: 1042,
  varchar: 1043,
  timestamp: 1114,
  timestamptz: 1184,
  uuid: 2950,
  jsonb: 3802,
} as const;

/** A column value in binary (send/recv) format, as a string for headers and keys. */
export function binaryToString(typeOid: number, value: Buffer): string {
  switch (typeOid) {
    case PG_TYPES.uuid: {
      const hex = value.toString('hex');
      return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
    }
    case PG_TYPES.text:
    case PG_TYPES.varchar:
    case PG_TYPES.bpchar:
      return value.toString('utf8');
    case PG_TYPES.jsonb:
      return value.toString('utf8', 1); // version byte first
    case PG_TYPES.int4:
      return String(value.readInt32BE(0));
    case PG_TYPES.int8:
      return value.readBigInt64BE(0).toString();
    case PG_TYPES.timestamptz:
      return zonedTimestamp(value.readBigInt64BE(0));
    case PG_TYPES.timestamp:
      return new Date(pgTimeToMs(value.readBigInt64BE(0))).toISOString();
    case PG_TYPES.bytea:
      return value.toString('base64');
    default:
      throw new Error(`column type oid ${typeOid} is not supported in an outbox row`);
  }
}

/**
 * A timestamptz as Debezium's PostgreSQL connector renders it (io.debezium.time.ZonedTimestamp),
 * so a header placed from such a column reads the same whichever relay wrote it: UTC with all
 * six fraction digits, e.g. 2026-01-01T00:00:00.500000Z.
 */
function zonedTimestamp(pgMicros: bigint): string {
  const micros = pgMicros + BigInt(PG_EPOCH_MS) * 1000n;
  const fraction = ((micros % 1_000_000n) + 1_000_000n) % 1_000_000n;
  const seconds = (micros - fraction) / 1_000_000n;
  return `${new Date(Number(seconds) * 1000).toISOString().slice(0, 19)}.${fraction.toString().padStart(6, '0')}Z`;
}

export function binaryToEpochMs(typeOid: number, value: Buffer): number {
  if (typeOid !== PG_TYPES.timestamptz && typeOid !== PG_TYPES.timestamp) {
    throw new Error(`column type oid ${typeOid} is not a timestamp`);
  }
  return pgTimeToMs(value.readBigInt64BE(0));
}
