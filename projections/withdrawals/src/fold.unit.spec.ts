import { foldWithdrawal, foldWithdrawals, type WithdrawalEvent, type WithdrawalFoldResult, type WithdrawalView } from './fold';

const WALLET = '01970000-0000-7000-8000-000000000001';
const W = '01970000-0000-7000-8000-0000000000aa';
const T0 = Date.parse('2025-06-01T10:00:00.000Z');
const base = { walletId: WALLET, withdrawalId: W };
const at = (version: number) => ({ eventId: `e-${version}`, version, occurredAt: T0 + version * 1_000 });

const requested = (version = 3, amount = 300): WithdrawalEvent => ({
  type: 'WithdrawalRequested',
  data: { ...base, ...at(version), amount, currency: 'EUR', balance: 1_000, held: amount },
});
const submitted = (version: number, providerReference: string | null = null): WithdrawalEvent => ({
  type: 'WithdrawalSubmitted',
  data: { ...base, ...at(version), provider: 'psp-sim', providerReference },
});
const completed = (version: number): WithdrawalEvent => ({
  type: 'WithdrawalCompleted',
  data: { ...base, ...at(version), amount: 300, currency: 'EUR', balance: 700, held: 0, providerReference: 'psp-77' },
});
const failed = (version: number): WithdrawalEvent => ({
  type: 'WithdrawalFailed',
  data: { ...base, ...at(version), reason: 'provider_declined', detail: 'insufficient liquidity' },
});
const compensated = (version: number): WithdrawalEvent => ({
  type: 'WithdrawalCompensated',
  data: { ...base, ...at(version), amount: 300, currency: 'EUR', balance: 1_000, held: 0 },
});

/** given the events already folded, when `event` arrives, the result. */
function given(history: WithdrawalEvent[]): { when: (event: WithdrawalEvent) => WithdrawalFoldResult } {
  let row: WithdrawalView | undefined;
  for (const e of history) {
    const r = foldWithdrawal(row, e);
    if (r.kind !== 'applied') throw new Error(`history does not fold: ${JSON.stringify(r)}`);
    row = r.row;
  }
  return { when: (event) => foldWithdrawal(row, event) };
}

describe('withdrawal status fold', () => {
  it('given nothing, when WithdrawalRequested, then a processing withdrawal with its amount and wallet', () => {
    expect(given([]).when(requested())).toEqual({
      kind: 'applied',
      row: {
        withdrawalId: W,
        walletId: WALLET,
        amount: 300,
        currency: 'EUR',
        state: 'processing',
        provider: null,
        providerReference: null,
        failureReason: null,
        failureDetail: null,
        requestedAt: new Date(T0 + 3_000),
        updatedAt: new Date(T0 + 3_000),
        version: 3,
        lastEventId: 'e-3',
      },
    });
  });

  it('given a requested withdrawal, when it is submitted, then still processing, with the provider', () => {
    expect(given([requested()]).when(submitted(4))).toMatchObject({
      kind: 'applied',
      row: { state: 'processing', provider: 'psp-sim', version: 4 },
    });
  });

  it('given a submitted withdrawal, when it completes, then completed with the provider reference', () => {
    expect(given([requested(), submitted(4)]).when(completed(5))).toMatchObject({
      kind: 'applied',
      row: { state: 'completed', providerReference: 'psp-77', version: 5, requestedAt: new Date(T0 + 3_000) },
    });
  });

  it('given a submitted withdrawal, when it fails, then failed with the reason and detail', () => {
    expect(given([requested(), submitted(4)]).when(failed(5))).toMatchObject({
      kind: 'applied',
      row: { state: 'failed', failureReason: 'provider_declined', failureDetail: 'insufficient liquidity' },
    });
  });

  it('given a failed withdrawal, when the hold is released, then compensated and the failure reason kept', () => {
    expect(given([requested(), submitted(4), failed(5)]).when(compensated(6))).toMatchObject({
      kind: 'applied',
      row: { state: 'compensated', failureReason: 'provider_declined', version: 6 },
    });
  });

  it('given nothing, when WithdrawalCompleted names an unknown withdrawal, then it is rejected', () => {
    expect(given([]).when(completed(5))).toMatchObject({ kind: 'rejected', reason: 'unknown_withdrawal' });
  });

  it('given a completed withdrawal, when it fails afterwards, then it is rejected as an invalid transition', () => {
    expect(given([requested(), completed(4)]).when(failed(5))).toMatchObject({ kind: 'rejected', reason: 'invalid_transition' });
  });

  it('given a requested withdrawal, when it is requested again under another version, then it is rejected', () => {
    expect(given([requested()]).when(requested(4))).toMatchObject({ kind: 'rejected', reason: 'withdrawal_exists' });
  });

  it('given nothing, when a withdrawal of zero is requested, then it is rejected', () => {
    expect(given([]).when(requested(3, 0))).toMatchObject({ kind: 'rejected', reason: 'invalid_amount' });
  });

  it('given a batch with the whole life of a withdrawal, when folded, then one final row', () => {
    const { results, changed } = foldWithdrawals(new Map(), [requested(), submitted(4), failed(5), compensated(6)]);
    expect(results.map((r) => r.kind)).toEqual(['applied', 'applied', 'applied', 'applied']);
    expect(changed).toMatchObject([{ withdrawalId: W, state: 'compensated', version: 6 }]);
  });
});

describe('withdrawal status fold: releases only follow failures', () => {
  it('given a processing withdrawal, when its hold is released without a failure, then it is rejected', () => {
    expect(given([requested()]).when(compensated(4))).toMatchObject({ kind: 'rejected', reason: 'invalid_transition' });
  });
});
