import type { KafkaMessage } from 'kafkajs';
import { errorMessage, isRetriable, SluiceError } from '@sluice/core';
import type { AvroEventCodec } from '@sluice/messaging';
import type { Projection } from './projection';

/** A record of a batch after decoding, still carrying its offset. */
export type DecodedRecord<E> =
  | {
      readonly kind: 'event';
      readonly offset: bigint;
      readonly key: string | undefined;
      readonly eventType: string;
      readonly event: E;
    }
  /** A decoded event of a type this projection does not fold. */
  | { readonly kind: 'ignored'; readonly offset: bigint; readonly eventType: string }
  /** A value that is not a decodable event; `reason` is the codec's error code. */
  | { readonly kind: 'undecodable'; readonly offset: bigint; readonly reason: string; readonly detail: string };

/**
 * Decodes a batch's values. A value that can never decode (not in the wire
 * format, unknown schema id or record, bytes that do not match the schema) is
 * returned as undecodable so the batch moves on. An error retrying can cure
 * (the registry is unreachable) is thrown: the batch is fetched again.
 */
export async function decodeRecords<E>(
  codec: AvroEventCodec,
  projection: Projection<E>,
  messages: readonly KafkaMessage[],
): Promise<DecodedRecord<E>[]> {
  const out: DecodedRecord<E>[] = [];
  for (const message of messages) {
    const offset = BigInt(message.offset);
    if (!message.value || message.value.length === 0) {
      out.push({ kind: 'undecodable', offset, reason: 'empty_value', detail: 'the record has no value (a tombstone?)' });
      continue;
    }
    try {
      const decoded = await codec.decode(message.value);
      const event = projection.accept(decoded);
      out.push(
        event === undefined
          ? { kind: 'ignored', offset, eventType: decoded.type }
          : { kind: 'event', offset, key: message.key?.toString('utf8'), eventType: decoded.type, event },
      );
    } catch (err) {
      if (isRetriable(err)) throw err;
      const reason = err instanceof SluiceError ? (err as SluiceError<string>).code : 'decode_failed';
      out.push({ kind: 'undecodable', offset, reason, detail: errorMessage(err) });
    }
  }
  return out;
}
