import { UUID_PATTERN } from '@sluice/core';
import { commandIdOf, decide, finishingCommands, idempotencyKeyOf, nextStep, type Outcome, type Saga } from './saga';

const T0 = Date.parse('2026-11-27T10:00:00.000Z');
const timings = {
  now: T0,
  answerDeadlineMs: 10_000,
  reconfirmMs: 60_000,
  stepBackoffBaseMs: 100,
  stepBackoffMaxMs: 30_000,
  random: () => 0.5,
};
const saga = (over: Partial<Saga> = {}): Saga => ({
  withdrawalId: '01970000-0000-7000-8000-0000000000aa',
  walletId: '01970000-0000-7000-8000-000000000001',
  amount: 300,
  currency: 'EUR',
  state: 'requested',
  provider: 'psp-simulator',
  providerReference: null,
  attempts: 0,
  requestedAt: new Date(T0 - 1_000),
  submittedAt: null,
  ...over,
});
const payout = (status: 'pending' | 'paid' | 'failed', source: 'answer' | 'look_up' | 'webhook' = 'answer'): Outcome => ({
  kind: 'payout',
  payout: { payoutId: 'po_1', status, failureCode: status === 'failed' ? 'declined' : null },
  source,
});

describe('payment saga', () => {
  it('given a requested withdrawal, when the provider accepts the payout, then submitted, the wallet told, and an answer deadline set', () => {
    const d = decide(saga(), payout('pending'), timings);
    expect(d.action).toBe('submitted');
    expect(d.patch).toMatchObject({ state: 'submitted', providerReference: 'po_1', nextAttemptAt: new Date(T0 + 10_000) });
    expect(d.commands).toEqual([
      expect.objectContaining({ type: 'MarkWithdrawalSubmitted', providerReference: 'po_1', provider: 'psp-simulator' }),
    ]);
  });

  it('given a submitted withdrawal, when the payout is paid, then completed with one CompleteWithdrawal', () => {
    const d = decide(saga({ state: 'submitted', providerReference: 'po_1' }), payout('paid', 'webhook'), timings);
    expect(d.patch.state).toBe('completed');
    expect(d.commands.map((c) => c.type)).toEqual(['CompleteWithdrawal']);
    // The wallet's confirmation is due by then, else the command goes again.
    expect(d.patch.nextAttemptAt).toEqual(new Date(T0 + 60_000));
  });

  it('given a requested withdrawal, when the first news is already paid (webhook before the answer), then submitted and completed in order', () => {
    const d = decide(saga(), payout('paid', 'webhook'), timings);
    expect(d.commands.map((c) => c.type)).toEqual(['MarkWithdrawalSubmitted', 'CompleteWithdrawal']);
  });

  it('given a submitted withdrawal, when the provider declines, then failed and FailWithdrawal (which releases the hold)', () => {
    const d = decide(saga({ state: 'submitted' }), payout('failed', 'webhook'), timings);
    expect(d.patch).toMatchObject({ state: 'failed', failureReason: 'declined' });
    expect(d.commands).toEqual([expect.objectContaining({ type: 'FailWithdrawal', reason: 'declined' })]);
  });

  it.each([
    ['a repeated paid', 'completed', payout('paid', 'webhook')],
    ['a late pending (out of order)', 'completed', payout('pending', 'webhook')],
    ['a contradicting failure', 'completed', payout('failed', 'webhook')],
    ['no answer', 'failed', { kind: 'no_answer', error: 'timeout' }],
  ] as [string, 'completed' | 'failed', Outcome][])(
    'given a %s on a %s withdrawal, then nothing changes and nothing is sent',
    (_what, state, outcome) => {
      expect(decide(saga({ state }), outcome, timings)).toEqual({ patch: {}, commands: [], action: 'ignored' });
    },
  );

  it('given a submitted withdrawal, when a repeated pending webhook arrives, then nothing changes; when a look-up past the deadline finds it pending, look again later', () => {
    expect(decide(saga({ state: 'submitted' }), payout('pending', 'webhook'), timings).action).toBe('ignored');
    const d = decide(saga({ state: 'submitted' }), payout('pending', 'look_up'), timings);
    expect(d.action).toBe('wait_for_answer');
    expect(d.patch.nextAttemptAt!.getTime()).toBeGreaterThanOrEqual(T0 + 10_000);
  });

  it('given no answer, then it never fails: it tries again later, backing off with jitter, and the next step looks the payout up first', () => {
    const first = decide(saga(), { kind: 'no_answer', error: 'timeout after 1500 ms' }, timings);
    expect(first).toMatchObject({
      action: 'retry_later',
      commands: [],
      patch: { attempts: 1, lastError: 'timeout after 1500 ms' },
    });
    expect(first.patch.nextAttemptAt!.getTime() - T0).toBe(100);
    const later = decide(saga({ attempts: 8 }), { kind: 'no_answer', error: 'x' }, timings);
    expect(later.patch.nextAttemptAt!.getTime() - T0).toBe(15_000); // half of the 30 s cap
    expect(nextStep(saga())).toBe('send_payout');
    expect(nextStep(saga({ attempts: 1 }))).toBe('look_up');
    expect(nextStep(saga({ state: 'submitted' }))).toBe('look_up');
  });

  it('given an open circuit, then the withdrawal is parked, not failed', () => {
    expect(decide(saga(), { kind: 'circuit_open' }, timings)).toEqual({
      patch: { parked: true },
      commands: [],
      action: 'parked',
    });
  });

  it('given a refusal of the request itself, then failed with the provider’s code', () => {
    const d = decide(saga(), { kind: 'refused', code: 'validation_failed', detail: 'bad currency' }, timings);
    expect(d.commands).toEqual([expect.objectContaining({ type: 'FailWithdrawal', reason: 'provider_validation_failed' })]);
  });

  it('derives the same idempotency key and command ids for a withdrawal every time, different per step', () => {
    const id = '01970000-0000-7000-8000-0000000000AA';
    expect(idempotencyKeyOf(id)).toBe('wd_01970000-0000-7000-8000-0000000000aa');
    expect(commandIdOf(id, 'CompleteWithdrawal')).toBe(commandIdOf(id.toLowerCase(), 'CompleteWithdrawal'));
    expect(commandIdOf(id, 'CompleteWithdrawal')).not.toBe(commandIdOf(id, 'FailWithdrawal'));
    expect(commandIdOf(id, 'FailWithdrawal')).toMatch(UUID_PATTERN);
  });

  it('given a finished saga the wallet has not confirmed, then its finishing command again, with the same id', () => {
    const done = saga({ state: 'completed', providerReference: 'po_1' });
    const first = decide(saga({ state: 'submitted' }), payout('paid', 'webhook'), timings).commands[0];
    expect(finishingCommands(done, null)).toEqual([first]);
    expect(finishingCommands(saga({ state: 'failed' }), 'declined')).toEqual([
      expect.objectContaining({
        type: 'FailWithdrawal',
        reason: 'declined',
        commandId: commandIdOf(done.withdrawalId, 'FailWithdrawal'),
      }),
    ]);
    expect(finishingCommands(saga(), null)).toEqual([]);
  });
});
