import type { KafkaMessage } from 'kafkajs';
import { errorMessage, isRetriable, SluiceError } from '@sluice/core';
import { normalizeHeaders, type AvroEventCodec } from '@sluice/messaging';

/** A record as it came off the topic: what a dead letter or a parked row must carry unchanged. */
export interface RawRecord {
  readonly offset: bigint;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly headers: Readonly<Record<string, Buffer[]>>;
  /** The broker's (or producer's) timestamp. */
  readonly timestamp: Date | null;
}

export type DecodeResult =
  | { readonly ok: true; readonly type: string; readonly data: unknown }
  /** `code` is the codec's error code (bad_wire_format, schema_not_found, ...) or empty_value. */
  | { readonly ok: false; readonly code: string; readonly detail: string };

/** A record of a batch, decoded once and shared by every projection the engine runs. */
export interface BatchRecord {
  readonly raw: RawRecord;
  readonly key: string | undefined;
  readonly decoded: DecodeResult;
}

export function rawRecord(message: KafkaMessage): RawRecord {
  const ts = Number(message.timestamp);
  let headers: Record<string, Buffer[]> | undefined;
  return {
    offset: BigInt(message.offset),
    key: message.key ?? null,
    value: message.value ?? null,
    // Only parked records and dead letters need them: normalised on first use.
    get headers() {
      return (headers ??= normalizeHeaders(message.headers));
    },
    timestamp: Number.isFinite(ts) && ts > 0 ? new Date(ts) : null,
  };
}

/**
 * Decodes raw records. A value that can never decode (not in the wire format,
 * an unknown schema or record, bytes that do not match the schema, no value
 * at all) comes back as a failed decode, which the engine parks; an error
 * retrying can cure (the registry is unreachable) is thrown, and the batch is
 * tried again.
 */
export async function decodeRecords(codec: AvroEventCodec, raws: readonly RawRecord[]): Promise<BatchRecord[]> {
  const out: BatchRecord[] = [];
  for (const raw of raws) {
    const key = raw.key?.toString('utf8');
    if (!raw.value || raw.value.length === 0) {
      out.push({ raw, key, decoded: { ok: false, code: 'empty_value', detail: 'the record has no value (a tombstone?)' } });
      continue;
    }
    try {
      const decoded = await codec.decode(raw.value);
      out.push({ raw, key, decoded: { ok: true, type: decoded.type, data: decoded.data } });
    } catch (err) {
      if (isRetriable(err)) throw err;
      const code = err instanceof SluiceError ? (err as SluiceError<string>).code : 'decode_failed';
      out.push({ raw, key, decoded: { ok: false, code, detail: errorMessage(err) } });
    }
  }
  return out;
}
