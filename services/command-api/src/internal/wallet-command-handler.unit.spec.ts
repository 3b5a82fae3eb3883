import { generateKeyPairSync } from 'node:crypto';
import type { Pool } from 'pg';
import { Registry } from 'prom-client';
import {
  ConsumerMetrics,
  consumerPipeline,
  DLQ_HEADERS,
  eachMessage,
  RecordError,
  type BatchContext,
  type InboundRecord,
  type OutboundMessage,
  signCommand,
  frame,
} from '@sluice/messaging';
import { ResilienceError } from '@sluice/resilience';
import type { WalletCommands } from '../commands/wallet-commands';
import { WalletCommandHandler } from './wallet-command-handler';

const WALLET = '0190a000-0000-7000-8000-000000000001';
const deposit = {
  type: 'DepositFunds',
  commandId: '0190a000-0000-7000-8000-0000000000c1',
  walletId: WALLET,
  amount: 5,
  currency: 'EUR',
};

const bonusKey = generateKeyPairSync('ed25519');
const issuers = new Map([['bonus-service', { publicKey: bonusKey.publicKey, commands: new Set(['DepositFunds']) }]]);
const signed = (command: Record<string, unknown>) =>
  signCommand(command as { type: string; commandId: string }, 'bonus-service', bonusKey.privateKey);

/** The handler inside the runtime's pipeline, as the command API runs it, with the dead letters kept in memory. */
function setup(execute: () => Promise<unknown>) {
  const letters: OutboundMessage[] = [];
  let heartbeats = 0;
  const handler = new WalletCommandHandler({ execute } as unknown as WalletCommands, {} as Pool, {
    consumer: 'g',
    attemptBudgetMs: 100,
    issuers,
    // JSON commands and refused Avro ones never reach the decoder.
    codec: {
      decode: () => {
        throw new Error('must not decode');
      },
    },
  });
  const run = consumerPipeline(
    eachMessage(async (m) => {
      try {
        await handler.handle(m.record.value);
      } catch (err) {
        throw new RecordError((err as { code?: string }).code ?? 'x', String(err), m.record, {
          cause: err,
          retriable: (err as { retriable?: boolean }).retriable ?? false,
        });
      }
    }),
    {
      group: 'g',
      metrics: ConsumerMetrics.for(new Registry()),
      retry: { maxAttempts: 3, baseMs: 1, maxMs: 1 },
      deadLetters: { publisher: { publish: async (_t, ms) => void letters.push(...ms) }, topic: 'cmds.dlq' },
    },
  );
  const record = (value: string | Buffer): InboundRecord => ({
    topic: 'cmds',
    partition: 0,
    offset: '7',
    key: Buffer.from(WALLET),
    value: Buffer.from(value),
    headers: {},
    timestamp: null,
  });
  const ctx: BatchContext = {
    topic: 'cmds',
    partition: 0,
    highWatermark: '8',
    signal: new AbortController().signal,
    heartbeat: async () => void heartbeats++,
    commit: async () => undefined,
    owned: () => true,
    release: () => undefined,
  };
  const header = (i: number, name: string) => letters[i]?.headers?.[name];
  return {
    send: (value: string | Buffer) => run([{ record: record(value) }], ctx),
    letters,
    header,
    heartbeats: () => heartbeats,
  };
}

describe('WalletCommandHandler on the consumer runtime', () => {
  it('given a command failing for a passing reason, when every attempt fails, then it is dead-lettered as retries_exhausted after the last attempt', async () => {
    let calls = 0;
    const t = setup(async () => {
      calls++;
      throw new ResilienceError('overloaded', 'the postgres queue is full', 100);
    });
    await t.send(signed(deposit));
    expect(calls).toBe(3);
    expect(t.heartbeats()).toBe(2);
    expect(t.letters).toHaveLength(1);
    expect(t.header(0, DLQ_HEADERS.code)).toBe('retries_exhausted');
    expect(t.header(0, DLQ_HEADERS.attempts)).toBe('3');
    expect(t.header(0, DLQ_HEADERS.offset)).toBe('7');
    expect(t.header(0, DLQ_HEADERS.topic)).toBe('cmds');
  });

  it('given a passing failure, when a retry succeeds, then the command is applied and nothing is dead-lettered', async () => {
    let calls = 0;
    const t = setup(async () => {
      if (++calls === 1) throw new ResilienceError('deadline_exceeded', 'too slow', 100);
      return { replayed: false, response: { status: 200, body: '{}', headers: {} } };
    });
    await t.send(signed(deposit));
    expect(calls).toBe(2);
    expect(t.letters).toEqual([]);
  });

  it.each([
    ['not JSON', '{"type":'],
    ['neither Avro nor JSON', 'DepositFunds 5 EUR'],
    ['an unknown field', signed({ ...deposit, memo: 'x' })],
    ['a fractional amount', signed({ ...deposit, amount: 1.5 })],
  ])('given %s, the message is dead-lettered as invalid_command without touching the wallet', async (_label, value) => {
    const t = setup(async () => {
      throw new Error('must not run');
    });
    await t.send(value);
    expect(t.letters.map((l) => l.headers?.[DLQ_HEADERS.code])).toEqual(['invalid_command']);
  });

  it.each([
    ['an unsigned command (wire version 1)', JSON.stringify(deposit), 'command_unsigned'],
    ['an Avro command without issuer and signature headers', frame(1, Buffer.from([2, 4])), 'command_unsigned'],
    ['a type its issuer may not send', signed({ ...deposit, type: 'Steal' }), 'command_type_not_allowed'],
    [
      'a command signed by a key of no known issuer',
      signCommand(deposit, 'bonus-service', generateKeyPairSync('ed25519').privateKey),
      'command_bad_signature',
    ],
  ])('given %s, the message is dead-lettered with the reason without touching the wallet', async (_label, value, code) => {
    const t = setup(async () => {
      throw new Error('must not run');
    });
    await t.send(value);
    expect(t.letters.map((l) => l.headers?.[DLQ_HEADERS.code])).toEqual([code]);
  });
});
