import type { KafkaMessage } from 'kafkajs';
import type { Pool } from 'pg';
import { createLogger } from '@sluice/observability';
import { ResilienceError } from '@sluice/resilience';
import type { WalletCommands } from '../commands/wallet-commands';
import type { DeadLetter, DeadLetterPublisher } from './dead-letter';
import { WalletCommandHandler } from './wallet-command-handler';

const WALLET = '0190a000-0000-7000-8000-000000000001';
const deposit = {
  type: 'DepositFunds',
  commandId: '0190a000-0000-7000-8000-0000000000c1',
  walletId: WALLET,
  amount: 5,
  currency: 'EUR',
};

function setup(execute: () => Promise<unknown>) {
  const letters: DeadLetter[] = [];
  let heartbeats = 0;
  const handler = new WalletCommandHandler(
    { execute } as unknown as WalletCommands,
    {} as Pool,
    { publish: async (l: DeadLetter) => void letters.push(l) } as unknown as DeadLetterPublisher,
    { consumer: 'g', maxAttempts: 3, attemptBudgetMs: 100, backoffMs: 1 },
    createLogger('t', 'silent'),
  );
  const received = (value: string) => ({
    topic: 'cmds',
    partition: 0,
    message: { key: Buffer.from(WALLET), value: Buffer.from(value), offset: '7', headers: {} } as unknown as KafkaMessage,
    heartbeat: async () => void heartbeats++,
  });
  return { handler, letters, received, heartbeats: () => heartbeats };
}

describe('WalletCommandHandler', () => {
  it('given a command failing for a passing reason, when every attempt fails, then it is dead-lettered as retries_exhausted after maxAttempts', async () => {
    let calls = 0;
    const t = setup(async () => {
      calls++;
      throw new ResilienceError('overloaded', 'the postgres queue is full', 100);
    });
    expect(await t.handler.handle(t.received(JSON.stringify(deposit)))).toBe('dead_lettered');
    expect(calls).toBe(3);
    expect(t.heartbeats()).toBe(2);
    expect(t.letters).toEqual([expect.objectContaining({ code: 'retries_exhausted', attempts: 3, offset: '7', topic: 'cmds' })]);
  });

  it('given a passing failure, when a retry succeeds, then the command is applied and nothing is dead-lettered', async () => {
    let calls = 0;
    const t = setup(async () => {
      if (++calls === 1) throw new ResilienceError('deadline_exceeded', 'too slow', 100);
      return { replayed: false, response: { status: 200, body: '{}', headers: {} } };
    });
    expect(await t.handler.handle(t.received(JSON.stringify(deposit)))).toBe('applied');
    expect(t.letters).toEqual([]);
  });

  it.each([
    ['not JSON', '{"type":'],
    ['an unknown type', JSON.stringify({ ...deposit, type: 'Steal' })],
    ['an unknown field', JSON.stringify({ ...deposit, memo: 'x' })],
    ['a fractional amount', JSON.stringify({ ...deposit, amount: 1.5 })],
  ])('given %s, the message is dead-lettered as invalid_command without touching the wallet', async (_label, value) => {
    const t = setup(async () => {
      throw new Error('must not run');
    });
    expect(await t.handler.handle(t.received(value))).toBe('dead_lettered');
    expect(t.letters.map((l) => l.code)).toEqual(['invalid_command']);
  });
});
