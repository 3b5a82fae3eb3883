import { errorMessage, isRetriable, SluiceError } from '@sluice/core';
import type { AvroEventCodec } from '../avro-codec';
import { RecordError } from './errors';
import type { ConsumedMessage, Middleware } from './ports';

/**
 * Decodes each record's Avro value (Confluent framing, the registry for
 * writer schemas) into `event`. A record that can never decode (no value, not
 * the wire format, a schema unknown to the registry or to this consumer,
 * bytes that do not match) fails as a RecordError with the codec's code, so
 * the dead-letter middleware parks it; a failure retrying can cure (the
 * registry is down) is thrown as it is and retried. Nothing is ever skipped.
 */
export function decode(codec: Pick<AvroEventCodec, 'decode'>): Middleware {
  return (next) => async (messages, ctx) => {
    const decoded: ConsumedMessage[] = [];
    for (const message of messages) {
      if (message.event) {
        decoded.push(message);
        continue;
      }
      const { record } = message;
      if (!record.value || record.value.length === 0) {
        throw new RecordError('empty_value', 'the record has no value (a tombstone?)', record);
      }
      try {
        decoded.push({ record, event: await codec.decode(record.value) });
      } catch (err) {
        if (isRetriable(err)) throw err;
        const code = err instanceof SluiceError ? (err as SluiceError<string>).code : 'undecodable';
        throw new RecordError(code, `undecodable: ${errorMessage(err)}`, record, { cause: err });
      }
    }
    await next(decoded, ctx);
  };
}
