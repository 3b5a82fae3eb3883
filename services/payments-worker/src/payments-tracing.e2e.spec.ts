import { randomBytes } from 'node:crypto';
import { uniqueName, waitFor, startZipkin, type TestZipkin, type ZipkinSpan } from '@sluice/testing';
import { PaymentsPlatform } from './test-support/payments-platform';

/**
 * One withdrawal followed in Zipkin across the saga: the client's request, the payments worker's
 * handling of WithdrawalRequested and its payout steps, and the command API's handling of each
 * wallet command the worker sent, all in the trace the client started. Zipkin from
 * deploy/local/zipkin.sh on a free port with its own run directory, as in deploy/e2e/tracing.e2e.spec.ts.
 */

let platform: PaymentsPlatform;
let zipkinUrl: string;
let zipkin: TestZipkin | undefined;

beforeAll(async () => {
  zipkin = await startZipkin();
  zipkinUrl = zipkin.url;
  platform = await PaymentsPlatform.start(
    'paytrace',
    {},
    { TRACING_EXPORTER: 'zipkin', TRACING_ENDPOINT: `${zipkinUrl}/api/v2/spans`, TRACING_SAMPLE_RATIO: '1' },
  );
});

afterAll(async () => {
  await platform?.stop();
  await zipkin?.stop();
});

const service = (s: ZipkinSpan) => s.localEndpoint?.serviceName;

describe('a withdrawal’s trace', () => {
  it('holds the payments worker’s handling and the command API’s span for each command the worker sent', async () => {
    const walletId = await platform.wallet(1_000);
    const traceId = randomBytes(16).toString('hex');
    const res = await fetch(`${platform.services.command!.url}/v1/wallets/${walletId}/withdrawals`, {
      method: 'POST',
      headers: {
        ...(await platform.auth()),
        'content-type': 'application/json',
        'idempotency-key': uniqueName('wd'),
        traceparent: `00-${traceId}-${randomBytes(8).toString('hex')}-01`,
      },
      body: JSON.stringify({ amount: 300, currency: 'EUR' }),
    });
    expect(res.status).toBe(202);
    const withdrawalId = String(((await res.json()) as Record<string, unknown>).withdrawalId);
    expect((await platform.settled([withdrawalId])).get(withdrawalId)).toBe('completed');

    // Paid: the worker sent MarkWithdrawalSubmitted and CompleteWithdrawal, each handled by the command API.
    const spans = await waitFor(
      `trace ${traceId} in Zipkin with the command API's span of two wallet commands`,
      async () => {
        const r = await fetch(`${zipkinUrl}/api/v2/trace/${traceId}`);
        if (r.status !== 200) return undefined;
        const all = (await r.json()) as ZipkinSpan[];
        const commands = all.filter((s) => service(s) === 'command-api' && s.name.startsWith('process '));
        return commands.length >= 2 ? all : undefined;
      },
      // Each process exports its spans in batches every few seconds.
      { timeoutMs: 60_000, intervalMs: 500 },
    );
    const byId = new Map(spans.map((s) => [s.id, s]));
    const parentOf = (s: ZipkinSpan) => byId.get(s.parentId ?? '');

    // The worker handled the WithdrawalRequested the command API committed, and its payout step continued that span.
    const handled = spans.find((s) => service(s) === 'payments-worker' && s.name.startsWith('process '))!;
    expect(parentOf(handled)?.name).toBe('wallet.commit');
    const payout = spans.find((s) => service(s) === 'payments-worker' && s.name.startsWith('payout '))!;
    expect(parentOf(payout)?.id).toBe(handled.id);

    // Each command's span in the command API is a child of the worker's span (payout step or webhook) that sent it,
    // and the command's own commit joins the trace under it.
    const commandSpans = spans.filter((s) => service(s) === 'command-api' && s.name.startsWith('process '));
    for (const command of commandSpans) {
      const sender = parentOf(command);
      expect({ service: sender && service(sender), name: sender?.name }).toEqual({
        service: 'payments-worker',
        name: expect.stringMatching(/^(payout|webhook) /),
      });
      expect(spans.some((s) => s.parentId === command.id && s.name === 'wallet.commit')).toBe(true);
    }
  });
});
