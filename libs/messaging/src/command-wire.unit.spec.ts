import { generateKeyPairSync } from 'node:crypto';
import avro from 'avsc';
import { DepositFundsSchema, type DepositFunds } from '@sluice/schemas';
import { canonicalJson, payloadHash, signCommand, type IssuerPolicy } from './command-signing';
import {
  avroCommandEncoder,
  commandWireFormat,
  ISSUER_HEADER,
  SIGNATURE_HEADER,
  verifyFramedCommand,
  type EncodedCommand,
} from './command-wire';
import { frame, unframe } from './wire-format';

const depositType = avro.Type.forSchema(DepositFundsSchema as unknown as avro.Schema);
/** A codec over one schema id (7), as the registry-backed codec behaves for a registered DepositFunds. */
const codec = {
  encode: (_aggregate: string, event: { type: string; data: unknown }) => frame(7, depositType.toBuffer(event.data)),
  decode: async (value: Buffer) => ({ type: 'DepositFunds', data: depositType.fromBuffer(unframe(value).payload), schemaId: 7 }),
};
const deposit = {
  type: 'DepositFunds',
  commandId: '0190a000-0000-7000-8000-0000000000c1',
  walletId: '0190a000-0000-7000-8000-000000000001',
  amount: 5,
  currency: 'EUR',
  issuedBy: 'bonus-service/welcome',
} as const satisfies { type: 'DepositFunds' } & DepositFunds;

const bonus = generateKeyPairSync('ed25519');
const policy = (commands: string[]): Map<string, IssuerPolicy> =>
  new Map([['bonus-service', { publicKey: bonus.publicKey, commands: new Set(commands) }]]);
const encode = avroCommandEncoder(codec, 'wallet-commands', 'bonus-service', bonus.privateKey);
const check = (sent: EncodedCommand, commands = ['DepositFunds']) =>
  verifyFramedCommand(sent.value, (name) => sent.headers[name], policy(commands), codec);

describe('signed Avro commands (wire version 3)', () => {
  it('verify and decode to the payload the JSON wire carried, with the same hash', async () => {
    const result = await check(encode(deposit));
    expect(result).toEqual({ ok: true, issuer: 'bonus-service', payload: deposit, payloadHash: payloadHash(deposit) });
    expect(canonicalJson(result.ok && result.payload)).toBe(canonicalJson(deposit));
  });

  it('are refused as bad_signature when one byte of the value changed after signing', async () => {
    const sent = encode(deposit);
    const tampered = Buffer.from(sent.value);
    tampered.writeUInt8(tampered.readUInt8(tampered.length - 1) ^ 1, tampered.length - 1);
    expect(await check({ value: tampered, headers: sent.headers })).toMatchObject({ ok: false, refusal: 'bad_signature' });
  });

  it('are refused as bad_signature when the issuer header names another issuer than the signer', async () => {
    const sent = encode(deposit);
    const issuers = new Map([...policy(['DepositFunds']), ['payments-worker', policy(['DepositFunds']).get('bonus-service')!]]);
    const result = await verifyFramedCommand(
      sent.value,
      (name) => (name === ISSUER_HEADER ? 'payments-worker' : sent.headers[name]),
      issuers,
      codec,
    );
    expect(result).toMatchObject({ ok: false, refusal: 'bad_signature' });
  });

  it('are refused as unsigned without the headers, and as unknown_issuer from an issuer not configured', async () => {
    const unsigned = avroCommandEncoder(codec, 'wallet-commands', 'bonus-service', undefined)(deposit);
    expect(unsigned.headers).toEqual({});
    expect(await check(unsigned)).toMatchObject({ ok: false, refusal: 'unsigned' });
    const stranger = avroCommandEncoder(codec, 'wallet-commands', 'stranger', bonus.privateKey)(deposit);
    expect(await check(stranger)).toMatchObject({ ok: false, refusal: 'unknown_issuer' });
  });

  it('are refused as type_not_allowed when the issuer may not send the decoded type', async () => {
    expect(await check(encode(deposit), ['CompleteWithdrawal'])).toMatchObject({ ok: false, refusal: 'type_not_allowed' });
  });

  it('carry the signature in headers, not in the value', () => {
    const sent = encode(deposit);
    expect(Object.keys(sent.headers).sort()).toEqual([ISSUER_HEADER, SIGNATURE_HEADER].sort());
    expect(sent.value.includes(Buffer.from(sent.headers[SIGNATURE_HEADER]!))).toBe(false);
  });
});

describe('commandWireFormat', () => {
  it('tells Avro (magic byte 0) from JSON written before the topic had a schema, and neither', () => {
    expect(commandWireFormat(encode(deposit).value)).toBe('avro');
    expect(commandWireFormat(Buffer.from(signCommand(deposit, 'bonus-service', bonus.privateKey)))).toBe('json');
    expect(commandWireFormat(Buffer.from(' {}'))).toBe('unknown');
    expect(commandWireFormat(Buffer.alloc(0))).toBe('unknown');
  });
});
