import { UUID_PATTERN } from '@sluice/core';
import {
  afterNotFound,
  commandIdOf,
  decide,
  finishingCommands,
  idempotencyKeyOf,
  nextStep,
  resolveReview,
  type Outcome,
  type Saga,
} from './saga';

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
    expect(d.patch).toMatchObject({ state: 'failed', failureReason: 'provider_declined:declined' });
    expect(d.commands).toEqual([expect.objectContaining({ type: 'FailWithdrawal', reason: 'provider_declined:declined' })]);
  });

  it('given a submitted withdrawal, when the payout fails with an undocumented code, then review and no command', () => {
    const odd: Outcome = {
      kind: 'payout',
      payout: { payoutId: 'po_1', status: 'failed', failureCode: 'weird' },
      source: 'webhook',
    };
    const d = decide(saga({ state: 'submitted' }), odd, timings);
    expect(d).toMatchObject({ action: 'needs_review', patch: { state: 'needs_review', reviewReason: 'unknown_failure_code' } });
    expect(d.commands).toEqual([]);
  });

  it.each([
    ['a repeated paid', 'completed', payout('paid', 'webhook')],
    ['a late pending (out of order)', 'completed', payout('pending', 'webhook')],
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

  it('given a payout request answered 422 with a documented decline code, then failed and the hold released', () => {
    const d = decide(saga(), { kind: 'refused', operation: 'create', status: 422, code: 'declined' }, timings);
    expect(d.commands).toEqual([expect.objectContaining({ type: 'FailWithdrawal', reason: 'provider_declined:declined' })]);
  });

  it.each([
    [404, 'payout_not_found'],
    [409, 'idempotency_key_in_use'],
    [401, 'unauthorized'],
    [422, 'idempotency_key_reused'],
    [400, 'validation_failed'],
  ])('given a payout request answered %i %s, then review: no FailWithdrawal, the hold stays', (status, code) => {
    const d = decide(saga(), { kind: 'refused', operation: 'create', status, code }, timings);
    expect(d).toMatchObject({ action: 'needs_review', patch: { state: 'needs_review', reviewReason: 'unexpected_refusal' } });
    expect(d.commands).toEqual([]);
  });

  it('given a documented decline after a try that may have paid, then review, not failed', () => {
    const d = decide(
      saga({ attempts: 1, sendUncertain: true }),
      { kind: 'refused', operation: 'create', status: 422, code: 'declined' },
      timings,
    );
    expect(d.action).toBe('needs_review');
  });

  it('given a look-up answered with any 4xx, then review', () => {
    const d = decide(saga({ attempts: 1 }), { kind: 'refused', operation: 'look_up', status: 404, code: 'not_found' }, timings);
    expect(d).toMatchObject({ action: 'needs_review', patch: { reviewReason: 'look_up_refused' } });
  });

  it('given a payout request that timed out, then the saga remembers the payout may exist, and a look-up that finds nothing is reviewed', () => {
    const d = decide(saga(), { kind: 'no_answer', error: 'timeout', maybeSent: true }, timings);
    expect(d.patch).toMatchObject({ sendUncertain: true, attempts: 1 });
    expect(afterNotFound(saga({ attempts: 1, sendUncertain: true }))).toBe('review');
    expect(afterNotFound(saga({ attempts: 1 }))).toBe('send_payout');
    expect(afterNotFound(saga({ state: 'submitted' }))).toBe('review');
    expect(decide(saga({ attempts: 1, sendUncertain: true }), { kind: 'not_found' }, timings)).toMatchObject({
      action: 'needs_review',
      patch: { reviewReason: 'payout_not_found' },
    });
  });

  it('given a saga under review, then no news moves it', () => {
    const parked = saga({ state: 'needs_review' });
    expect(decide(parked, payout('failed', 'webhook'), timings).action).toBe('ignored');
    expect(decide(parked, payout('paid', 'look_up'), timings).action).toBe('ignored');
  });

  it('given a failed saga, when a paid webhook arrives, then a conflict is flagged and nothing is applied', () => {
    const d = decide(saga({ state: 'failed' }), payout('paid', 'webhook'), timings);
    expect(d).toEqual({
      patch: {},
      commands: [],
      action: 'conflict',
      conflict: { sagaState: 'failed', reported: 'paid', payoutId: 'po_1' },
    });
    expect(decide(saga({ state: 'completed' }), payout('failed', 'webhook'), timings).conflict).toMatchObject({
      reported: 'failed',
    });
  });

  it('given an old withdrawal, then its first step is a look-up', () => {
    expect(nextStep(saga({ lookUpFirst: true }))).toBe('look_up');
    expect(nextStep(saga())).toBe('send_payout');
  });

  it('given a saga under review resolved as paid, then submitted (when the wallet never heard) and completed', () => {
    const d = resolveReview(saga({ state: 'needs_review' }), 'paid', 'po_9', timings);
    expect(d.commands.map((c) => c.type)).toEqual(['MarkWithdrawalSubmitted', 'CompleteWithdrawal']);
    expect(d.patch.state).toBe('completed');
  });

  it('given a saga under review resolved as failed, then FailWithdrawal with a bounded reason', () => {
    const d = resolveReview(saga({ state: 'needs_review', submittedAt: new Date(T0) }), 'failed', null, timings);
    expect(d.commands).toEqual([expect.objectContaining({ type: 'FailWithdrawal', reason: 'provider_failed:review' })]);
    expect(() => resolveReview(saga(), 'failed', null, timings)).toThrow(/not under review/);
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
