import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createPool, type Pool } from '@sluice/db';
import { checkInvariants, fetchExecutedPayouts, type InvariantReport } from '@sluice/invariants';
import { createKafka, ensureTopics, routeTopic } from '@sluice/messaging';
import { createLogger } from '@sluice/observability';
import { walletBalancesPage } from '@sluice/projection-wallet';
import {
  createTestDatabase,
  freePort,
  startService,
  testEnv,
  uniqueName,
  waitFor,
  type ServiceProcess,
  type TestDatabase,
  testIssuer,
} from '@sluice/testing';

export type Faults = Partial<{
  latencyMs: number;
  errorRate: number;
  down: boolean;
  declineRate: number;
  webhookDuplicateRate: number;
  webhookReorderRate: number;
  webhookDelayMs: number;
  refuseStatus: number;
  refuseCode: string;
  refuseRoute: 'create' | 'look_up' | 'all';
  keyInUseConflict: boolean;
  webhooksHeld: boolean;
}>;

export type FinalState = 'completed' | 'compensated';

/**
 * The whole withdrawal path as separate processes, as `make up` runs it:
 * command API, relay, projector, query API, the PSP simulator and the
 * payments worker, on a fresh database and unique topics.
 */
export class PaymentsPlatform {
  readonly services: Record<string, ServiceProcess> = {};
  pool!: Pool;
  private constructor(readonly db: TestDatabase) {}

  /** `env` goes to every service (tracing, say), `workerEnv` to the payments worker alone. */
  static async start(
    label: string,
    workerEnv: Record<string, string> = {},
    env: Record<string, string> = {},
  ): Promise<PaymentsPlatform> {
    const platform = new PaymentsPlatform(await createTestDatabase(label));
    const pattern = `${uniqueName(label)}.\${routedByValue}`;
    const kafka = createKafka({ ...testEnv.kafka, clientId: label, logger: createLogger(label, 'warn') });
    await ensureTopics(kafka, [{ topic: routeTopic(pattern, 'wallet'), partitions: 12, retainForever: true }]);
    const shared = {
      ...testIssuer().env(),
      DATABASE_URL: platform.db.url,
      ...testEnv.kafkaEnv,
      SCHEMA_REGISTRY_URL: testEnv.registryUrl,
      OUTBOX_TOPIC_PATTERN: pattern,
      OUTBOX_SLOT_NAME: uniqueName('slot').toLowerCase(),
      OUTBOX_PUBLICATION_NAME: uniqueName('pub').toLowerCase(),
      PROJECTOR_GROUP_ID: uniqueName('projector'),
      WALLET_COMMANDS_TOPIC: uniqueName(`${label}_wallet_commands`),
      WALLET_COMMANDS_DLQ_TOPIC: uniqueName(`${label}_wallet_commands_dlq`),
      WALLET_COMMANDS_GROUP_ID: uniqueName('command_api'),
      PAYMENTS_GROUP_ID: uniqueName('payments'),
      LOG_LEVEL: 'info',
      RELAY_RECONNECT_MAX_MS: '500',
      ...env,
    };
    const [pspPort, workerPort] = [await freePort(), await freePort()];
    const s = platform.services;
    s.command = startService('command-api', shared, await freePort());
    await s.command.waitReady();
    s.psp = startService(
      'psp-simulator',
      { ...shared, PSP_WEBHOOK_URL: `http://127.0.0.1:${workerPort}/v1/psp/webhooks`, PSP_SETTLE_MS: '150' },
      pspPort,
    );
    s.relay = startService('outbox-relay', shared, await freePort());
    s.projector = startService('projector', shared, await freePort());
    s.query = startService('query-api', shared, await freePort());
    s.worker = startService(
      'payments-worker',
      {
        ...shared,
        PSP_URL: `http://127.0.0.1:${pspPort}`,
        PSP_TIMEOUT_MS: '1000',
        PSP_RETRY_MAX_MS: '300',
        PAYOUT_LEASE_MS: '8000',
        PAYOUT_ANSWER_DEADLINE_MS: '3000',
        PAYOUT_STEP_BACKOFF_MAX_MS: '2000',
        ...workerEnv,
      },
      workerPort,
    );
    await Promise.all(Object.values(s).map((x) => x.waitReady(90_000)));
    platform.pool = createPool({ url: platform.db.url, applicationName: 'payments-e2e', max: 3 });
    return platform;
  }

  async stop(): Promise<void> {
    await Promise.all(Object.values(this.services).map((s) => s.kill('SIGTERM')));
    await this.pool?.end();
    await this.db.drop();
  }

  /** The Authorization header of the client these tests act as: a customer that also funds its wallets. */
  auth(): Promise<{ authorization: string }> {
    return testIssuer().bearer('payments-e2e');
  }

  async faults(faults: Faults): Promise<void> {
    const res = await fetch(`${this.services.psp!.url}/admin/faults`, { method: 'PUT', body: JSON.stringify(faults) });
    if (!res.ok) throw new Error(`PUT /admin/faults → ${res.status} ${await res.text()}`);
  }

  /** POSTs as a well-behaved client: a 429 or 503 is sent again after its Retry-After, with the same Idempotency-Key. */
  async post(path: string, body: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
    const key = uniqueName('k');
    for (let attempt = 1; ; attempt++) {
      const res = await fetch(`${this.services.command!.url}${path}`, {
        method: 'POST',
        headers: { ...(await this.auth()), 'content-type': 'application/json', 'idempotency-key': key },
        body: JSON.stringify(body),
      });
      const json = (await res.json()) as Record<string, unknown>;
      if ((res.status !== 429 && res.status !== 503) || attempt >= 10) return { status: res.status, body: json };
      await sleep(Number(res.headers.get('retry-after') ?? 1) * 1000);
    }
  }

  /** A wallet with `funds` deposited. */
  async wallet(funds: number): Promise<string> {
    const opened = await this.post('/v1/wallets', { currency: 'EUR' });
    if (opened.status !== 201) throw new Error(`open → ${opened.status} ${JSON.stringify(opened.body)}`);
    const walletId = String(opened.body.walletId);
    const dep = await this.post(`/v1/wallets/${walletId}/deposits`, { amount: funds, currency: 'EUR' });
    if (dep.status !== 201) throw new Error(`deposit → ${dep.status} ${JSON.stringify(dep.body)}`);
    return walletId;
  }

  /** Requests a withdrawal; resolves with its id once the command API answered 202. */
  async withdraw(walletId: string, amount: number): Promise<string> {
    const res = await this.post(`/v1/wallets/${walletId}/withdrawals`, { amount, currency: 'EUR' });
    if (res.status !== 202) throw new Error(`withdraw → ${res.status} ${JSON.stringify(res.body)}`);
    return String(res.body.withdrawalId);
  }

  /** The command side's state of each withdrawal. */
  async states(ids: readonly string[]): Promise<Map<string, string>> {
    const { rows } = await this.pool.query<{ id: string; status: string }>(
      'SELECT id, status FROM withdrawals WHERE id = ANY($1::uuid[])',
      [ids],
    );
    return new Map(rows.map((r) => [r.id, r.status]));
  }

  /** Waits until every withdrawal is over (completed or compensated) on the command side; resolves with the states. */
  async settled(ids: readonly string[], timeoutMs = 60_000): Promise<Map<string, FinalState>> {
    return waitFor(
      `${ids.length} withdrawals to settle`,
      async () => {
        const states = await this.states(ids);
        const open = ids.filter((id) => states.get(id) !== 'completed' && states.get(id) !== 'compensated');
        if (open.length > 0) {
          const { rows } = await this.pool.query(
            `SELECT withdrawal_id, state, wallet_state, attempts, parked_at, lease_until, next_attempt_at, last_error
               FROM payment_sagas WHERE withdrawal_id = ANY($1::uuid[]) LIMIT 3`,
            [open],
          );
          const pending = await this.pool.query('SELECT count(*)::int AS n FROM payment_commands');
          throw new Error(
            `${open.length} still open, e.g. ${open[0]} ${states.get(open[0]!)}; sagas ${JSON.stringify(rows)}; commands pending ${JSON.stringify(pending.rows[0])}`,
          );
        }
        return states as Map<string, FinalState>;
      },
      { timeoutMs, intervalMs: 250 },
    );
  }

  /** Every invariant, settled, with the provider's books; the read model once the projector caught up. */
  async invariants(): Promise<InvariantReport> {
    const payouts = await fetchExecutedPayouts(this.services.psp!.url);
    const strict = await checkInvariants({ pool: this.pool, payouts, settled: true });
    // The read model trails the command side by the pipeline's lag: give it time to agree.
    await waitFor('the read model to agree with the command side', async () => {
      const r = await checkInvariants({ pool: this.pool, readModel: walletBalancesPage });
      if (!r.ok) throw new Error(JSON.stringify(r.violations.slice(0, 3)));
      return true;
    });
    return strict;
  }

  async workerMetric(name: string): Promise<string> {
    const text = await (await fetch(`${this.services.worker!.url}/metrics`)).text();
    return text
      .split('\n')
      .filter((l) => l.startsWith(name))
      .join('\n');
  }

  /** Runs the worker's `payouts` tool against this platform's database; resolves with its exit code and output. */
  payoutsCli(args: readonly string[]): { status: number; stdout: string; stderr: string } {
    const tool = join(__dirname, '../../../../dist/services/payments-worker/src/payouts-cli.js');
    const r = spawnSync(process.execPath, [tool, ...args], {
      env: { ...process.env, DATABASE_URL: this.db.url },
      encoding: 'utf8',
    });
    return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
  }

  async saga(withdrawalId: string): Promise<Record<string, unknown> | undefined> {
    const { rows } = await this.pool.query<Record<string, unknown>>('SELECT * FROM payment_sagas WHERE withdrawal_id = $1', [
      withdrawalId,
    ]);
    return rows[0];
  }

  async sagaCount(where: string): Promise<number> {
    const { rows } = await this.pool.query<{ n: string }>(`SELECT count(*)::text AS n FROM payment_sagas WHERE ${where}`);
    return Number(rows[0]!.n);
  }
}
