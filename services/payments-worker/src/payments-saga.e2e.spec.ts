import { signPayload } from './webhooks/signature';
import { PaymentsPlatform } from './test-support/payments-platform';

/**
 * The withdrawal saga against a slow and flaky provider, every component a
 * real process: after each scenario every withdrawal is over and the money
 * invariants hold (conserved, holds accounted, nobody paid twice).
 */
let platform: PaymentsPlatform;

beforeAll(async () => {
  platform = await PaymentsPlatform.start('pay_saga');
}, 120_000);

afterAll(async () => {
  await platform?.stop();
});

afterEach(async () => {
  await platform.faults({
    latencyMs: 0,
    errorRate: 0,
    down: false,
    declineRate: 0,
    webhookDuplicateRate: 0,
    webhookReorderRate: 0,
  });
});

async function withdrawMany(wallets: number, perWallet: number, amount: number): Promise<string[]> {
  const ids: string[] = [];
  await Promise.all(
    Array.from({ length: wallets }, async () => {
      const walletId = await platform.wallet(perWallet * amount + 100);
      for (let i = 0; i < perWallet; i++) ids.push(await platform.withdraw(walletId, amount));
    }),
  );
  return ids;
}

describe('payments saga against the PSP simulator', () => {
  it('a withdrawal goes requested → submitted → completed; the client sees processing with Retry-After, then completed', async () => {
    const walletId = await platform.wallet(1_000);
    const id = await platform.withdraw(walletId, 300);
    const first = await fetch(`${platform.services.query!.url}/v1/withdrawals/${id}?minVersion=3`, {
      headers: await platform.auth(),
    });
    // The states pushed over server-sent events, until the stream ends with the final one.
    const stream = await fetch(`${platform.services.query!.url}/v1/withdrawals/${id}/events`, {
      headers: await platform.auth(),
      signal: AbortSignal.timeout(30_000),
    });
    const pushed = (await stream.text()).match(/"state":"[a-z]+"/g);
    expect(pushed?.at(-1)).toBe('"state":"completed"');
    const states = await platform.settled([id]);
    expect(states.get(id)).toBe('completed');
    if (first.status === 200) {
      const body = (await first.json()) as { state: string };
      if (body.state === 'processing') expect(first.headers.get('retry-after')).not.toBeNull();
    }
    const report = await platform.invariants();
    expect(report.violations).toEqual([]);
    expect(report.totals).toMatchObject({ completedWithdrawals: 1, payouts: 1, paidOut: 300 });
  });

  it('with the provider 500 ms slower, every withdrawal completes within the timeout, and the invariants hold', async () => {
    await platform.faults({ latencyMs: 500 });
    const ids = await withdrawMany(4, 3, 100);
    const states = await platform.settled(ids);
    expect([...states.values()].every((s) => s === 'completed')).toBe(true);
    expect((await platform.invariants()).violations).toEqual([]);
  });

  it('with 30 % of provider calls failing (half of them after paying), retries with the same key never pay twice', async () => {
    await platform.faults({ errorRate: 0.3 });
    const ids = await withdrawMany(5, 4, 50);
    const states = await platform.settled(ids, 90_000);
    expect([...states.values()].every((s) => s === 'completed')).toBe(true);
    const report = await platform.invariants();
    expect(report.violations).toEqual([]);
    expect(await platform.workerMetric('sluice_payments_provider_retries_total')).toMatch(/\} [1-9]/);
  });

  it('with every webhook sent twice and out of order, and some payouts declined, each withdrawal settles once: completed, or failed and compensated', async () => {
    await platform.faults({ webhookDuplicateRate: 1, webhookReorderRate: 1, declineRate: 0.4 });
    const ids = await withdrawMany(4, 4, 50);
    const states = await platform.settled(ids);
    expect(new Set(states.values()).size).toBe(2); // some of each, almost surely (16 at 40 %)
    const report = await platform.invariants();
    expect(report.violations).toEqual([]);
    expect(await platform.workerMetric('sluice_payments_webhooks_received_total')).toMatch(/result="duplicate"[^}]*\} [1-9]/);
  });

  it('takes a webhook only when signed with the secret and recent; a repeated event id is stored once', async () => {
    const url = `${platform.services.worker!.url}/v1/psp/webhooks`;
    const body = JSON.stringify({
      id: `evt_test_${Date.now()}`,
      type: 'payout.paid',
      data: { payoutId: 'po_x', reference: '01970000-0000-7000-8000-0000000000ff', status: 'paid' },
    });
    const send = (signature: string, payload = body) =>
      fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', 'psp-signature': signature }, body: payload });
    const secret = 'sluice-local-psp-webhook-secret';
    expect((await send(signPayload('wrong-secret-wrong-secret', body))).status).toBe(401);
    expect((await send(signPayload(secret, body, Date.now() - 600_000))).status).toBe(401);
    expect((await send(signPayload(secret, body), body.replace('paid"', 'failed"'))).status).toBe(401);
    const first = await send(signPayload(secret, body));
    expect(first.status).toBe(200);
    expect(await first.json()).toEqual({ received: true, duplicate: false });
    expect(await (await send(signPayload(secret, body))).json()).toEqual({ received: true, duplicate: true });
  });
});
