import type { Deserializer, IncomingEvent } from '@nestjs/microservices';
import { errorMessage } from '@sluice/core';
import type { AvroEventCodec } from '@sluice/messaging';

/** What a handler receives: the decoded event, or why it could not be decoded. */
export type WalletEventPacket =
  | { readonly kind: 'event'; readonly type: string; readonly data: unknown }
  | { readonly kind: 'undecodable'; readonly reason: string };

/**
 * Decodes Confluent-framed Avro records for the NestJS Kafka transport (which
 * leaves values starting with the magic byte 0 as buffers). A record this
 * consumer cannot decode becomes a packet saying so, rather than an error
 * that would stop the partition.
 */
export class AvroEventDeserializer implements Deserializer<{ value?: unknown }, IncomingEvent> {
  constructor(private readonly codec: AvroEventCodec) {}

  async deserialize(message: { value?: unknown }, options?: Record<string, unknown>): Promise<IncomingEvent> {
    const channel = options?.channel;
    const pattern = typeof channel === 'string' ? channel : '';
    const value = message.value;
    if (!Buffer.isBuffer(value)) return { pattern, data: { kind: 'undecodable', reason: 'the value is not Avro' } };
    try {
      const decoded = await this.codec.decode(value);
      return { pattern, data: { kind: 'event', type: decoded.type, data: decoded.data } satisfies WalletEventPacket };
    } catch (err) {
      return { pattern, data: { kind: 'undecodable', reason: errorMessage(err) } satisfies WalletEventPacket };
    }
  }
}
