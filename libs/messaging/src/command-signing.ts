import { createHash, createPrivateKey, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';

/**
 * Signed internal commands (wire version 2). A command on a command topic
 * is a JSON object: its own fields (the payload: type, commandId and the
 * rest) plus `v: 2`, `issuer` (who sent it) and `signature`, an Ed25519
 * signature (base64url) by the issuer's private key over
 * commandSigningInput(issuer, commandId, type, payload). The receiver holds
 * each issuer's public key and the command types it may send.
 */
export const SIGNED_COMMAND_VERSION = 2;
const DOMAIN = 'sluice.command.v2';
const ENVELOPE_FIELDS = new Set(['v', 'issuer', 'signature']);

/** JSON with object keys sorted at every depth and no whitespace: one byte string per value. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value === 'number' || typeof value === 'boolean' || typeof value === 'string') {
    if (typeof value === 'number' && !Number.isFinite(value)) throw new TypeError('not a JSON number');
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  throw new TypeError(`not a JSON value: ${typeof value}`);
}

/** The bytes a command's signature covers: a domain tag, then issuer, command id, type and payload, canonically. */
export function commandSigningInput(issuer: string, commandId: string, type: string, payload: Record<string, unknown>): Buffer {
  return Buffer.from(`${DOMAIN}\n${canonicalJson([issuer, commandId, type, payload])}`, 'utf8');
}

/** SHA-256 (hex) of a command's canonical payload: what an inbox keeps to tell a reused id from a redelivery. */
export function payloadHash(payload: Record<string, unknown>): string {
  return createHash('sha256').update(canonicalJson(payload)).digest('hex');
}

export interface CommandPayload {
  type: string;
  commandId: string;
  [field: string]: unknown;
}

/** Signs a command: the value to put on the topic. */
export function signCommand(payload: CommandPayload, issuer: string, privateKey: KeyObject): string {
  const body = stripEnvelope(payload);
  const signature = sign(null, commandSigningInput(issuer, payload.commandId, payload.type, body), privateKey).toString(
    'base64url',
  );
  return JSON.stringify({ ...body, v: SIGNED_COMMAND_VERSION, issuer, signature });
}

export interface IssuerPolicy {
  publicKey: KeyObject;
  /** The command types this issuer may send. */
  commands: ReadonlySet<string>;
}

export type CommandRefusal = 'unsigned' | 'unsupported_version' | 'unknown_issuer' | 'bad_signature' | 'type_not_allowed';
export const COMMAND_REFUSALS: readonly CommandRefusal[] = [
  'unsigned',
  'unsupported_version',
  'unknown_issuer',
  'bad_signature',
  'type_not_allowed',
];

export type VerifiedCommand =
  | { ok: true; issuer: string; payload: Record<string, unknown>; payloadHash: string }
  | { ok: false; refusal: CommandRefusal; detail: string };

/**
 * Checks a parsed command value: signed (version 2), by a known issuer,
 * with a signature that verifies over its payload, of a type that issuer
 * may send. The payload comes back without the envelope fields.
 */
export function verifyCommand(value: unknown, issuers: ReadonlyMap<string, IssuerPolicy>): VerifiedCommand {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { ok: false, refusal: 'unsigned', detail: 'not a JSON object' };
  }
  const v = value as Record<string, unknown>;
  if (v.signature === undefined && v.v === undefined) {
    return { ok: false, refusal: 'unsigned', detail: 'the command carries no issuer and signature (wire version 1)' };
  }
  if (v.v !== SIGNED_COMMAND_VERSION) return { ok: false, refusal: 'unsupported_version', detail: `wire version ${String(v.v)}` };
  const { issuer, signature, type, commandId } = v;
  if (typeof issuer !== 'string' || typeof signature !== 'string' || typeof type !== 'string' || typeof commandId !== 'string') {
    return { ok: false, refusal: 'unsigned', detail: 'issuer, signature, type and commandId must be strings' };
  }
  const policy = issuers.get(issuer);
  if (!policy) return { ok: false, refusal: 'unknown_issuer', detail: `issuer ${issuer.slice(0, 64)} is not known` };
  const payload = stripEnvelope(v);
  let good = false;
  try {
    good = verify(
      null,
      commandSigningInput(issuer, commandId, type, payload),
      policy.publicKey,
      Buffer.from(signature, 'base64url'),
    );
  } catch {
    good = false;
  }
  if (!good) return { ok: false, refusal: 'bad_signature', detail: `the signature does not verify for issuer ${issuer}` };
  if (!policy.commands.has(type)) {
    return { ok: false, refusal: 'type_not_allowed', detail: `issuer ${issuer} may not send ${type.slice(0, 64)}` };
  }
  return { ok: true, issuer, payload, payloadHash: payloadHash(payload) };
}

function stripEnvelope(v: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(v).filter(([k]) => !ENVELOPE_FIELDS.has(k)));
}

/** An issuer's Ed25519 private key from a PEM (PKCS #8) file. */
export function readSigningKey(path: string): KeyObject {
  const key = createPrivateKey(readFileSync(path));
  if (key.asymmetricKeyType !== 'ed25519') throw new Error(`${path} is not an Ed25519 private key`);
  return key;
}

/**
 * The issuers file: {"<issuer>": {"publicKey": "<PEM>", "commands": ["<type>", …]}, …}.
 * Every key must be Ed25519 and every issuer allowed at least one type.
 */
export function readIssuers(path: string): Map<string, IssuerPolicy> {
  const raw = JSON.parse(readFileSync(path, 'utf8')) as unknown;
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new Error(`${path}: not a JSON object of issuers`);
  const issuers = new Map<string, IssuerPolicy>();
  for (const [name, entry] of Object.entries(raw as Record<string, unknown>)) {
    const e = entry as { publicKey?: unknown; commands?: unknown };
    if (typeof e.publicKey !== 'string' || !Array.isArray(e.commands) || e.commands.length === 0) {
      throw new Error(`${path}: issuer ${name} needs a publicKey (PEM) and a non-empty commands list`);
    }
    const publicKey = createPublicKey(e.publicKey);
    if (publicKey.asymmetricKeyType !== 'ed25519') throw new Error(`${path}: issuer ${name}'s key is not Ed25519`);
    issuers.set(name, { publicKey, commands: new Set(e.commands.map(String)) });
  }
  return issuers;
}

/** Turns a command into the value a sender puts on the topic. */
export type CommandSigner = (payload: CommandPayload) => string;

/**
 * The signer of an issuer: signs with its key. Without a key (development
 * only; configuration refuses it elsewhere) the command goes unsigned and the
 * receiver refuses it as such.
 */
export function commandSigner(issuer: string, key: KeyObject | undefined): CommandSigner {
  return key ? (payload) => signCommand(payload, issuer, key) : (payload) => JSON.stringify(payload);
}
