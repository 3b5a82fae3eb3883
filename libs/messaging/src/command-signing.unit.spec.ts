import { generateKeyPairSync } from 'node:crypto';
import {
  canonicalJson,
  commandSigningInput,
  payloadHash,
  signCommand,
  verifyCommand,
  type IssuerPolicy,
} from './command-signing';

const payments = generateKeyPairSync('ed25519');
const bonus = generateKeyPairSync('ed25519');
const issuers = new Map<string, IssuerPolicy>([
  ['payments-worker', { publicKey: payments.publicKey, commands: new Set(['CompleteWithdrawal', 'FailWithdrawal']) }],
  ['bonus-service', { publicKey: bonus.publicKey, commands: new Set(['DepositFunds']) }],
]);
const complete = {
  type: 'CompleteWithdrawal',
  commandId: '01970000-0000-7000-8000-000000000001',
  walletId: '01970000-0000-7000-8000-000000000002',
  withdrawalId: '01970000-0000-7000-8000-000000000003',
  providerReference: 'po_1',
};

describe('signed internal commands', () => {
  it('encodes canonically: keys sorted at every depth, no whitespace, undefined left out', () => {
    expect(canonicalJson({ b: 1, a: { d: [true, null], c: 'x' }, e: undefined })).toBe('{"a":{"c":"x","d":[true,null]},"b":1}');
    expect(canonicalJson({ a: 1, b: 2 })).toBe(canonicalJson({ b: 2, a: 1 }));
  });

  it('signs over a domain tag, issuer, command id, type and payload', () => {
    expect(commandSigningInput('i', 'c', 't', { x: 1 }).toString()).toBe('sluice.command.v2\n["i","c","t",{"x":1}]');
  });

  it('verifies a command signed by an issuer allowed its type, whatever the order of its fields', () => {
    const value = JSON.parse(signCommand(complete, 'payments-worker', payments.privateKey)) as Record<string, unknown>;
    const reordered = Object.fromEntries(Object.entries(value).reverse());
    expect(verifyCommand(reordered, issuers)).toEqual({
      ok: true,
      issuer: 'payments-worker',
      payload: complete,
      payloadHash: payloadHash(complete),
    });
  });

  it('refuses an unsigned command (wire version 1)', () => {
    expect(verifyCommand(complete, issuers)).toMatchObject({ ok: false, refusal: 'unsigned' });
  });

  it('refuses a command whose payload changed after signing', () => {
    const value = JSON.parse(signCommand(complete, 'payments-worker', payments.privateKey)) as Record<string, unknown>;
    expect(verifyCommand({ ...value, providerReference: 'po_2' }, issuers)).toMatchObject({
      ok: false,
      refusal: 'bad_signature',
    });
  });

  it('refuses a command signed with another issuer’s key, and one from an unknown issuer', () => {
    const forged = JSON.parse(signCommand(complete, 'payments-worker', bonus.privateKey)) as Record<string, unknown>;
    expect(verifyCommand(forged, issuers)).toMatchObject({ ok: false, refusal: 'bad_signature' });
    const stranger = JSON.parse(signCommand(complete, 'stranger', bonus.privateKey)) as Record<string, unknown>;
    expect(verifyCommand(stranger, issuers)).toMatchObject({ ok: false, refusal: 'unknown_issuer' });
  });

  it('refuses a type the issuer may not send, although the signature is good', () => {
    const deposit = {
      type: 'DepositFunds',
      commandId: complete.commandId,
      walletId: complete.walletId,
      amount: 5,
      currency: 'EUR',
    };
    const value = JSON.parse(signCommand(deposit, 'payments-worker', payments.privateKey)) as Record<string, unknown>;
    expect(verifyCommand(value, issuers)).toMatchObject({ ok: false, refusal: 'type_not_allowed' });
  });

  it('hashes the same payload the same way in any field order, and another payload differently', () => {
    expect(payloadHash({ a: 1, b: 2 })).toBe(payloadHash({ b: 2, a: 1 }));
    expect(payloadHash({ a: 1, b: 2 })).not.toBe(payloadHash({ a: 1, b: 3 }));
  });
});
