import { setTimeout as sleep } from 'node:timers/promises';
import { fetchExecutedPayouts } from '@sluice/invariants';
import { waitFor } from '@sluice/testing';
import { PaymentsPlatform } from './test-support/payments-platform';
import { signPayload } from './webhooks/signature';

/**
 * A provider answer that does not say whether money left never releases a
 * hold: after a payout request timed out (the provider went on and paid it),
 * a 404, 409 or 401 puts the saga under review; a person resolves it with the
 * payouts tool. Only documented declines release holds.
 */
let platform: PaymentsPlatform;

beforeAll(async () => {
  // Requests time out after 1 s; the provider takes 1.5 s and then pays.
  platform = await PaymentsPlatform.start('pay_review', { PSP_RETRIES: '1', PSP_CIRCUIT_MIN_CALLS: '50' });
}, 120_000);

afterAll(async () => {
  await platform?.stop();
});

afterEach(async () => {
  await platform.faults({
    latencyMs: 0,
    errorRate: 0,
    declineRate: 0,
    refuseStatus: 0,
    keyInUseConflict: false,
    webhooksHeld: false,
  });
});

const CLEAR = { latencyMs: 0, refuseStatus: 0 };

/** A withdrawal whose payout request timed out while the provider paid it (its webhooks held back). */
async function timedOutPayout(): Promise<{ walletId: string; id: string }> {
  await platform.faults({ ...CLEAR, latencyMs: 1_500, webhooksHeld: true });
  const walletId = await platform.wallet(1_000);
  const id = await platform.withdraw(walletId, 400);
  await waitFor('the payout request to go unanswered', async () => (await platform.saga(id))?.send_uncertain === true, {
    timeoutMs: 20_000,
  });
  return { walletId, id };
}

async function expectHeldUnderReview(id: string, walletId: string, reason: string): Promise<void> {
  await waitFor('the saga to be under review', async () => (await platform.saga(id))?.state === 'needs_review', {
    timeoutMs: 20_000,
  });
  expect((await platform.saga(id))?.review_reason).toBe(reason);
  await sleep(1_500); // nothing moves it on its own
  expect((await platform.states([id])).get(id)).toBe('requested');
  const { rows } = await platform.pool.query<{ held: string }>('SELECT held::text FROM wallets WHERE id = $1', [walletId]);
  expect(Number(rows[0]?.held)).toBe(400);
  expect(await platform.sagaCount(`withdrawal_id = '${id}' AND state = 'failed'`)).toBe(0);
}

async function conflictCount(): Promise<number> {
  const line = (await platform.workerMetric('sluice_payments_webhook_conflicts_total'))
    .split('\n')
    .find((l) => l.includes('saga_state="failed"') && l.includes('reported="paid"'));
  return Number(line?.split(' ').at(-1) ?? 0);
}

describe('ambiguous provider answers park the saga, never release the hold', () => {
  it('a 404 to the look-up after a timed-out payout request keeps the hold', async () => {
    const { walletId, id } = await timedOutPayout();
    await platform.faults({ ...CLEAR, refuseStatus: 404, refuseCode: 'payout_not_found', refuseRoute: 'look_up' });
    await expectHeldUnderReview(id, walletId, 'look_up_refused');
    expect((await fetchExecutedPayouts(platform.services.psp!.url)).filter((p) => p.reference === id)).toHaveLength(1);
  });

  it('a 409 "idempotency key in use" to the retried payout request keeps the hold', async () => {
    await platform.faults({ ...CLEAR, latencyMs: 1_500, keyInUseConflict: true });
    const walletId = await platform.wallet(1_000);
    const id = await platform.withdraw(walletId, 400);
    // The first try times out at 1 s; the retry finds the first still being processed and gets 409.
    await expectHeldUnderReview(id, walletId, 'unexpected_refusal');
    expect(await platform.workerMetric('sluice_payments_reviews_total')).toMatch(/reason="unexpected_refusal"[^}]*\} [1-9]/);
  });

  it('a 401 after a credential rotation, following a timed-out payout request, keeps the hold', async () => {
    const { walletId, id } = await timedOutPayout();
    await platform.faults({ ...CLEAR, refuseStatus: 401, refuseCode: 'unauthorized', refuseRoute: 'all' });
    await expectHeldUnderReview(id, walletId, 'look_up_refused');
    expect(await platform.workerMetric('sluice_payments_sagas_needing_review')).toMatch(/ [1-9]/);
  });

  it('a look-up that finds no payout after a payout request that may have been sent keeps the hold, and sends nothing', async () => {
    // The provider is slow and then refuses to create: both tries time out first, so neither side knows.
    await platform.faults({ ...CLEAR, latencyMs: 1_500, refuseStatus: 401, refuseCode: 'unauthorized', refuseRoute: 'create' });
    const walletId = await platform.wallet(1_000);
    const id = await platform.withdraw(walletId, 400);
    await waitFor('the payout request to go unanswered', async () => (await platform.saga(id))?.send_uncertain === true, {
      timeoutMs: 20_000,
    });
    // The look-up now answers at once, and finds nothing: the payout may still surface, so nothing is sent again.
    await platform.faults({ latencyMs: 0 });
    await expectHeldUnderReview(id, walletId, 'payout_not_found');
    expect((await fetchExecutedPayouts(platform.services.psp!.url)).filter((p) => p.reference === id)).toEqual([]);
  });

  it('a saga under review is listed by `payouts parked` and resolved with `payouts resolve`: paid completes it, failed releases the hold', async () => {
    const a = await timedOutPayout();
    const b = await timedOutPayout();
    await platform.faults({ ...CLEAR, refuseStatus: 401, refuseCode: 'unauthorized', refuseRoute: 'all' });
    for (const id of [a.id, b.id]) {
      await waitFor('under review', async () => (await platform.saga(id))?.state === 'needs_review', { timeoutMs: 20_000 });
    }
    await platform.faults(CLEAR);
    const listed = platform.payoutsCli(['parked', '--json']);
    expect(listed.status).toBe(0);
    const parked = JSON.parse(listed.stdout) as { sagas: { withdrawalId: string; reason: string }[] };
    expect(parked.sagas.map((s) => s.withdrawalId)).toEqual(expect.arrayContaining([a.id, b.id]));

    // a: the provider's books show it paid. b: resolved failed (the test stands in for a person who checked).
    const paid = platform.payoutsCli(['resolve', a.id, '--paid', '--by', 'ops@example', '--note', 'paid per provider books']);
    expect(paid).toMatchObject({ status: 0 });
    expect(platform.payoutsCli(['resolve', a.id, '--failed', '--note', 'again'])).toMatchObject({ status: 1 });
    expect(platform.payoutsCli(['resolve', b.id, '--note', 'neither'])).toMatchObject({ status: 2 });
    expect(platform.payoutsCli(['resolve', b.id, '--failed', '--by', 'ops@example', '--note', 'checked'])).toMatchObject({
      status: 0,
    });

    const states = await platform.settled([a.id, b.id]);
    expect(states.get(a.id)).toBe('completed');
    expect(states.get(b.id)).toBe('compensated');
    expect(await platform.saga(a.id)).toMatchObject({
      resolution: 'paid',
      resolved_by: 'ops@example',
      resolution_note: 'paid per provider books',
    });
  });

  it('mixing timeouts, 4xx answers, lost answers, declines and successes pays no withdrawal twice and releases holds only for documented declines', async () => {
    const walletId = await platform.wallet(100_000);
    const ids: string[] = [];
    /** Withdrawals whose payout request went unanswered and whose provider then answered only 404, 401 or an empty look-up: each must end under review. */
    const ambiguous: string[] = [];
    const slow = { ...CLEAR, latencyMs: 1_500, webhooksHeld: true };
    const rounds: {
      faults: Parameters<PaymentsPlatform['faults']>[0];
      afterTimeOut?: Parameters<PaymentsPlatform['faults']>[0];
    }[] = [
      { faults: { ...CLEAR, errorRate: 0.3, declineRate: 0.3 } },
      { faults: { ...CLEAR, latencyMs: 1_500, declineRate: 0.3, keyInUseConflict: true } },
      { faults: { ...CLEAR, refuseStatus: 409, refuseCode: 'conflict', refuseRoute: 'create' } },
      // Paid by the provider after the request timed out; the look-up then answers 404.
      { faults: slow, afterTimeOut: { latencyMs: 0, refuseStatus: 404, refuseCode: 'payout_not_found', refuseRoute: 'look_up' } },
      // Paid after the request timed out; then every call answers 401, as after a credential rotation.
      { faults: slow, afterTimeOut: { latencyMs: 0, refuseStatus: 401, refuseCode: 'unauthorized', refuseRoute: 'all' } },
      // Never created, though the request timed out: the look-up finds nothing.
      {
        faults: { ...CLEAR, latencyMs: 1_500, refuseStatus: 401, refuseCode: 'unauthorized', refuseRoute: 'create' },
        afterTimeOut: { latencyMs: 0 },
      },
      { faults: { ...CLEAR, declineRate: 0.5 } },
    ];
    for (const { faults, afterTimeOut } of rounds) {
      await platform.faults({ errorRate: 0, declineRate: 0, webhooksHeld: false, keyInUseConflict: false, ...faults });
      const round: string[] = [];
      for (let i = 0; i < 4; i++) round.push(await platform.withdraw(walletId, 100));
      ids.push(...round);
      if (afterTimeOut) {
        await waitFor(
          "the round's payout requests to go unanswered",
          async () => (await Promise.all(round.map((id) => platform.saga(id)))).every((s) => s?.send_uncertain === true),
          { timeoutMs: 20_000, intervalMs: 200 },
        );
        await platform.faults(afterTimeOut);
        await waitFor(
          "the round's sagas to be under review",
          async () => (await Promise.all(round.map((id) => platform.saga(id)))).every((s) => s?.state === 'needs_review'),
          { timeoutMs: 30_000, intervalMs: 200 },
        );
        ambiguous.push(...round);
      }
      await sleep(2_500);
    }
    await platform.faults({ ...CLEAR, errorRate: 0, declineRate: 0, webhooksHeld: false });
    // Every saga ends: finished, or under review.
    await waitFor(
      'every saga to end or be under review',
      async () =>
        (await platform.sagaCount(`withdrawal_id = ANY('{${ids.join(',')}}') AND state IN ('requested', 'submitted')`)) === 0,
      { timeoutMs: 60_000, intervalMs: 500 },
    );
    const { rows: review } = await platform.pool.query<{ id: string }>(
      "SELECT withdrawal_id AS id FROM payment_sagas WHERE withdrawal_id = ANY($1::uuid[]) AND state = 'needs_review'",
      [ids],
    );
    const reviewed = new Set(review.map((r) => r.id));
    await platform.settled(ids.filter((id) => !reviewed.has(id)));
    await sleep(2_000); // webhooks of payouts paid after their request timed out
    const payouts = await fetchExecutedPayouts(platform.services.psp!.url);
    const paidBy = new Map<string, number>();
    for (const p of payouts) paidBy.set(p.reference, (paidBy.get(p.reference) ?? 0) + 1);
    expect([...paidBy.values()].filter((n) => n > 1)).toEqual([]);
    const states = await platform.states(ids);
    const { rows } = await platform.pool.query<{ id: string; failure_reason: string | null }>(
      'SELECT withdrawal_id AS id, failure_reason FROM payment_sagas WHERE withdrawal_id = ANY($1::uuid[])',
      [ids],
    );
    const reasons = new Map(rows.map((r) => [r.id, r.failure_reason]));
    for (const id of ids) {
      if (states.get(id) === 'compensated') {
        expect(paidBy.get(id)).toBeUndefined();
        expect(reasons.get(id)).toBe('provider_declined:declined');
      }
      if (states.get(id) === 'completed') expect(paidBy.get(id)).toBe(1);
    }
    expect(reviewed.size).toBeGreaterThan(0); // the 409 round at least
    // Later rounds' faults and the webhooks released at the end moved none of them on.
    expect(ambiguous.filter((id) => !reviewed.has(id))).toEqual([]);
    // Under review: the hold is still there, whatever the provider did.
    for (const id of reviewed) expect(['requested', 'submitted']).toContain(states.get(id));
  }, 240_000);

  it('a "paid" webhook for a withdrawal that failed is recorded, counted and listed for review, never applied', async () => {
    await platform.faults({ ...CLEAR, declineRate: 1 });
    const walletId = await platform.wallet(1_000);
    const id = await platform.withdraw(walletId, 400);
    expect((await platform.settled([id])).get(id)).toBe('compensated');
    const before = await conflictCount();
    const body = JSON.stringify({
      id: `evt_conflict_${id}`,
      type: 'payout.paid',
      data: { payoutId: 'po_late', reference: id, status: 'paid' },
    });
    const res = await fetch(`${platform.services.worker!.url}/v1/psp/webhooks`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'psp-signature': signPayload('sluice-local-psp-webhook-secret', body) },
      body,
    });
    expect(res.status).toBe(200);
    const recorded = await waitFor('the conflict to be recorded', async () => {
      const { rows } = await platform.pool.query<{ saga_state: string; reported_status: string; payout_id: string }>(
        'SELECT saga_state, reported_status, payout_id FROM payment_conflicts WHERE withdrawal_id = $1',
        [id],
      );
      return rows.length === 1 ? rows[0] : undefined;
    });
    expect(recorded).toEqual({ saga_state: 'failed', reported_status: 'paid', payout_id: 'po_late' });
    // Earlier scenarios may have had conflicts of their own (a payout paid after a person resolved it failed).
    await waitFor('the conflict to be counted', async () => (await conflictCount()) === before + 1);
    expect((await platform.saga(id))?.state).toBe('failed');
    const listed = JSON.parse(platform.payoutsCli(['parked', '--json']).stdout) as { conflicts: { withdrawalId: string }[] };
    expect(listed.conflicts.map((c) => c.withdrawalId)).toContain(id);
    expect(platform.payoutsCli(['ack', id, '--by', 'ops@example', '--note', 'refund requested']).status).toBe(0);
    const after = JSON.parse(platform.payoutsCli(['parked', '--json']).stdout) as { conflicts: { withdrawalId: string }[] };
    expect(after.conflicts.map((c) => c.withdrawalId)).not.toContain(id);
  });
});
