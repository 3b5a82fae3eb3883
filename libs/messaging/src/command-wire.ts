import { sign, verify, type KeyObject } from 'node:crypto';
import type { EventCatalog } from '@sluice/schemas';
import { AvroEventCodec } from './avro-codec';
import type { CommandRefusal, IssuerPolicy } from './command-signing';
import { payloadHash } from './command-signing';
import { MAGIC_BYTE } from './wire-format';

/**
 * Signed internal commands, wire version 3: the value is the command's Avro
 * record in the Confluent wire format (its schema in schemas/avro/<aggregate>-commands,
 * registered under the command topic), and the issuer and its Ed25519
 * signature travel as headers. The signature covers the bytes sent (schema id
 * and Avro payload), not a re-encoding of the fields: it is checked before
 * anything is decoded, and it stays valid when the reader's schema gains a
 * field, because nothing the reader fills in is signed. Dead letters keep the
 * headers, so a re-driven command still verifies.
 *
 * Values written as JSON before the topic had a schema (wire versions 1 and 2)
 * start with '{'; a Confluent-framed value starts with the magic byte 0.
 * Receivers tell them apart by that first byte (commandWireFormat).
 */
export const ISSUER_HEADER = 'sluice-issuer';
export const SIGNATURE_HEADER = 'sluice-signature';
const DOMAIN = 'sluice.command.v3';

/** The bytes a framed command's signature covers: a domain tag, the issuer, then the value as sent. */
export function framedSigningInput(issuer: string, value: Buffer): Buffer {
  return Buffer.concat([Buffer.from(`${DOMAIN}\n${issuer}\n`, 'utf8'), value]);
}

/** What a command topic's value is, by its first byte. */
export function commandWireFormat(value: Buffer): 'avro' | 'json' | 'unknown' {
  if (value.length === 0) return 'unknown';
  if (value[0] === MAGIC_BYTE) return 'avro';
  // JSON senders wrote JSON.stringify of an object: no leading whitespace.
  if (value[0] === 0x7b) return 'json';
  return 'unknown';
}

export interface EncodedCommand {
  readonly value: Buffer;
  readonly headers: Readonly<Record<string, string>>;
}

/** Turns a command into the value and headers a sender puts on the topic. */
export type CommandEncoder = (payload: { readonly type: string; readonly commandId: string }) => EncodedCommand;

/**
 * The encoder of an issuer: the command as its Avro record (the codec must
 * have registered or looked up the command schemas), signed with the
 * issuer's key. Without a key (development only; configuration refuses it
 * elsewhere) the command goes without issuer and signature, and the receiver
 * refuses it as unsigned.
 */
export function avroCommandEncoder(
  codec: Pick<AvroEventCodec, 'encode'>,
  aggregateType: string,
  issuer: string,
  key: KeyObject | undefined,
): CommandEncoder {
  return (payload): EncodedCommand => {
    const { type, ...data } = payload;
    const value = codec.encode(aggregateType, { type, data });
    if (!key) return { value, headers: {} };
    const signature = sign(null, framedSigningInput(issuer, value), key).toString('base64url');
    return { value, headers: { [ISSUER_HEADER]: issuer, [SIGNATURE_HEADER]: signature } };
  };
}

export type VerifiedFramedCommand =
  | { ok: true; issuer: string; payload: Record<string, unknown>; payloadHash: string }
  | { ok: false; refusal: CommandRefusal; detail: string };

/**
 * Checks a framed command: an issuer and signature header, a known issuer, a
 * signature over the value as sent; then decodes it (the codec's errors
 * propagate: a registry outage is retriable, an undecodable value is not)
 * and checks the issuer may send its type. The payload is the command's
 * fields with its type, as the JSON wire carried them, so its hash matches a
 * JSON copy of the same command.
 */
export async function verifyFramedCommand(
  value: Buffer,
  header: (name: string) => string | undefined,
  issuers: ReadonlyMap<string, IssuerPolicy>,
  codec: Pick<AvroEventCodec, 'decode'>,
): Promise<VerifiedFramedCommand> {
  const issuer = header(ISSUER_HEADER);
  const signature = header(SIGNATURE_HEADER);
  if (issuer === undefined || signature === undefined) {
    return { ok: false, refusal: 'unsigned', detail: `the command carries no ${ISSUER_HEADER} and ${SIGNATURE_HEADER} headers` };
  }
  const policy = issuers.get(issuer);
  if (!policy) return { ok: false, refusal: 'unknown_issuer', detail: `issuer ${issuer.slice(0, 64)} is not known` };
  let good = false;
  try {
    good = verify(null, framedSigningInput(issuer, value), policy.publicKey, Buffer.from(signature, 'base64url'));
  } catch {
    good = false;
  }
  if (!good) return { ok: false, refusal: 'bad_signature', detail: `the signature does not verify for issuer ${issuer}` };
  const decoded = await codec.decode(value);
  if (!policy.commands.has(decoded.type)) {
    return { ok: false, refusal: 'type_not_allowed', detail: `issuer ${issuer} may not send ${decoded.type.slice(0, 64)}` };
  }
  const payload: Record<string, unknown> = { type: decoded.type, ...(decoded.data as Record<string, unknown>) };
  return { ok: true, issuer, payload, payloadHash: payloadHash(payload) };
}

/**
 * A sender's encoder for a command topic: registers the catalog's command
 * schemas under the topic (the registry refuses a change its
 * BACKWARD_TRANSITIVE rule rejects, so an incompatible sender stops at
 * start-up), or with `register` false only looks their ids up (a read-only
 * registry user; a missing schema stops the sender as schema_not_found),
 * then signs as `issuer`.
 */
export async function connectCommandEncoder(options: {
  registryUrl: string;
  catalog: EventCatalog;
  topic: string;
  issuer: string;
  key: KeyObject | undefined;
  register: boolean;
}): Promise<CommandEncoder> {
  const codec = AvroEventCodec.connect(options.registryUrl, [options.catalog], options.topic);
  await (options.register ? codec.registerAll() : codec.lookupAll());
  return avroCommandEncoder(codec, options.catalog.aggregateType, options.issuer, options.key);
}
