import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Admin, Kafka, Producer } from 'kafkajs';
import { Client } from 'pg';
import { AvroEventCodec, createKafka, ensureTopics, partitionForKey, routeTopic } from '@sluice/messaging';
import { createLogger } from '@sluice/observability';
import { liveCheckpoints } from '@sluice/projection-kit';
import { foldWallets, simulateWalletHistories } from '@sluice/projection-wallet';
import { foldTransaction } from '@sluice/projection-transactions';
import { foldWithdrawals, type WithdrawalEvent } from '@sluice/projection-withdrawals';
import { walletCatalog, type WalletEvent } from '@sluice/schemas';
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

/**
 * The projector as its own process, as the supervisor runs it, killed with
 * SIGKILL while it applies batches under load; and the `sluice` CLI driving a
 * rebuild against it.
 */
const PARTITIONS = 12;
const ROOT = join(__dirname, '../../..');
let db: TestDatabase;
let kafka: Kafka;
let admin: Admin;
let producer: Producer;
let codec: AvroEventCodec;
let topic: string;
let env: Record<string, string>;
let projector: ServiceProcess;
let queryApi: ServiceProcess;
let sql: Client;
const produced: WalletEvent[] = [];

beforeAll(async () => {
  db = await createTestDatabase('projector_e2e');
  const pattern = `${uniqueName('e2e_projector')}.\${routedByValue}`;
  topic = routeTopic(pattern, walletCatalog.aggregateType);
  kafka = createKafka({ ...testEnv.kafka, clientId: 'projector-e2e', logger: createLogger('e2e', 'silent') });
  await ensureTopics(kafka, [{ topic, partitions: PARTITIONS, retainForever: true }]);
  admin = kafka.admin();
  await admin.connect();
  producer = kafka.producer({ allowAutoTopicCreation: false, idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  codec = AvroEventCodec.connect(testEnv.registryUrl, [walletCatalog], pattern);
  await codec.registerAll();
  env = {
    DATABASE_URL: db.url,
    ...testEnv.kafkaEnv,
    SCHEMA_REGISTRY_URL: testEnv.registryUrl,
    OUTBOX_TOPIC_PATTERN: pattern,
    PROJECTOR_GROUP_ID: uniqueName('projector'),
    LOG_LEVEL: 'info',
    // A killed member holds its partitions until its session times out: the shortest the broker allows.
    KAFKA_SESSION_TIMEOUT_MS: '6000',
    KAFKA_HEARTBEAT_INTERVAL_MS: '500',
    KAFKA_FETCH_MAX_WAIT_MS: '200',
    // Smaller fetches: more, shorter batches, so a kill lands inside one.
    PROJECTOR_MAX_BYTES_PER_PARTITION: '32768',
  };
  projector = startService('projector', env, await freePort());
  await projector.waitReady();
  queryApi = startService('query-api', { ...env, ...testIssuer().env() }, await freePort());
  await queryApi.waitReady();
  sql = new Client({ connectionString: db.url });
  await sql.connect();
});

afterAll(async () => {
  await queryApi?.kill('SIGTERM');
  await projector?.kill('SIGTERM');
  await sql?.end();
  await producer?.disconnect();
  await admin?.deleteTopics({ topics: [topic] }).catch(() => undefined);
  await admin?.disconnect();
  await db?.drop();
});

async function produce(events: readonly WalletEvent[]): Promise<void> {
  produced.push(...events);
  await producer.send({
    topic,
    acks: -1,
    messages: events.map((e) => ({
      key: e.data.walletId,
      value: codec.encode('wallet', e),
      partition: partitionForKey(e.data.walletId, PARTITIONS),
      headers: { id: e.data.eventId, type: e.type },
    })),
  });
}

async function caughtUp(timeoutMs = 45_000): Promise<void> {
  await waitFor(
    'every projection to reach the high watermarks',
    async () => {
      const high = new Map((await admin.fetchTopicOffsets(topic)).map((o) => [o.partition, o.high]));
      const rows = await liveCheckpoints(sql, topic);
      return rows.length === 3 * PARTITIONS && rows.every((r) => String(r.nextOffset) === high.get(r.partition));
    },
    { timeoutMs, intervalMs: 250 },
  );
}

function sluice(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(ROOT, 'dist/services/cli/src/main.js'), ...args], {
      cwd: ROOT,
      env: { ...process.env, ...env, LOG_LEVEL: 'warn', REBUILD_PROGRESS_INTERVAL_MS: '200' },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('error', reject);
    child.once('exit', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

describe('projector process', () => {
  it('kill -9 mid-batch, again and again, under load: the read models equal folding every event exactly once', async () => {
    const events = simulateWalletHistories({ seed: 2_026, wallets: 400, events: 20_000 });
    let flowing = true;
    const load = (async () => {
      for (let i = 0; i < events.length; i += 400) {
        await produce(events.slice(i, i + 400));
        await sleep(15);
      }
      flowing = false;
    })();
    for (let crash = 0; crash < 3; crash++) {
      await sleep(300 + Math.random() * 500);
      await projector.kill('SIGKILL');
      await projector.restart();
    }
    await load;
    expect(flowing).toBe(false);
    await caughtUp();

    // The wallet read model is the pure fold of every event, once.
    const expected = foldWallets(new Map(), produced);
    expect(expected.results.every((r) => r.kind === 'applied')).toBe(true);
    const { rows: wallets } = await sql.query<{ wallet_id: string; balance: string; held: string; version: number }>(
      'SELECT wallet_id, balance, held, version FROM wallet_balances',
    );
    expect(new Map(wallets.map((w) => [w.wallet_id, [Number(w.balance), Number(w.held), w.version]]))).toEqual(
      new Map(expected.changed.map((w) => [w.walletId, [w.balance, w.held, w.version]])),
    );

    // The history holds each money event once: no duplicate, nothing missing.
    const items = produced.flatMap((e) => {
      const r = foldTransaction(e);
      return r.kind === 'item' ? [`${r.item.walletId}/${r.item.version}/${r.item.type}/${r.item.amount}`] : [];
    });
    const { rows: history } = await sql.query<{ k: string }>(
      `SELECT wallet_id || '/' || version || '/' || type || '/' || amount AS k FROM wallet_transactions`,
    );
    expect(history.length).toBe(items.length);
    expect(new Set(history.map((h) => h.k)).size).toBe(history.length);
    expect(history.map((h) => h.k).sort()).toEqual(items.sort());

    // Withdrawal status is the fold of the withdrawal events.
    const withdrawals = foldWithdrawals(
      new Map(),
      produced.filter((e): e is WithdrawalEvent => e.type.startsWith('Withdrawal')),
    );
    const { rows: status } = await sql.query<{ withdrawal_id: string; state: string; version: number }>(
      'SELECT withdrawal_id, state, version FROM withdrawal_status',
    );
    expect(new Map(status.map((s) => [s.withdrawal_id, [s.state, s.version]]))).toEqual(
      new Map(withdrawals.changed.map((w) => [w.withdrawalId, [w.state, w.version]])),
    );
    // And nothing was parked on the way.
    expect((await sql.query('SELECT 1 FROM projection_parked')).rowCount).toBe(0);
  });

  it('SIGTERM finishes the batch in flight, commits, and leaves the group at once', async () => {
    await produce(simulateWalletHistories({ seed: 7, wallets: 50, events: 3_000, startAt: Date.UTC(2025, 8, 1) }));
    await sleep(200);
    await projector.kill('SIGTERM');
    // Left the group: no waiting out the 10 s session timeout.
    const [group] = (await admin.describeGroups([env.PROJECTOR_GROUP_ID!])).groups;
    expect(group?.members).toEqual([]);
    await projector.restart();
    await caughtUp();
    const { rows } = await sql.query<{ n: string }>('SELECT count(*) AS n FROM wallet_transactions');
    expect(Number(rows[0]!.n)).toBe(produced.filter((e) => foldTransaction(e).kind === 'item').length);
  });

  it('sluice projection rebuild builds a new version with a progress bar and switches; list and dlq show the result', async () => {
    const rebuild = await sluice(['projection', 'rebuild', 'transactions']);
    expect(rebuild.stderr).toMatch(/transactions v2 \[[█░]+\] .*ev\/s +ETA/);
    expect(rebuild.stdout).toMatch(/transactions v2 is live: \d+ events in [\d.]+ s/);
    expect(rebuild.stdout).toMatch(/v1 is kept for rollback/);
    expect(rebuild.code).toBe(0);

    const list = await sluice(['projection', 'list']);
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(/transactions .*\n.* live v2 \(proj_transactions_v2\)/);
    expect(list.stdout).toMatch(/v1 retired/);
    const dlq = await sluice(['dlq', 'list']);
    expect(dlq.stdout).toContain('no dead letters');

    // The live process carries on writing version 2.
    await produce(simulateWalletHistories({ seed: 8, wallets: 5, events: 200, startAt: Date.UTC(2025, 9, 1) }));
    await caughtUp();
    const { rows } = await sql.query<{ n: string }>('SELECT count(*) AS n FROM proj_transactions_v2.wallet_transactions');
    expect(Number(rows[0]!.n)).toBe(produced.filter((e) => foldTransaction(e).kind === 'item').length);
  });

  it('read-your-writes through the query API: a read for a version not yet projected waits for the projector’s notification', async () => {
    const last = new Map<string, WalletEvent>();
    for (const e of produced) last.set(e.data.walletId, e);
    const [walletId, latest] = [...last].find(([, e]) => e.type === 'FundsDeposited' && 'balance' in e.data)!;
    const data = latest.data as { balance: number; version: number };
    const { rows } = await sql.query<{ held: string }>('SELECT held FROM wallet_balances WHERE wallet_id = $1', [walletId]);
    const next: WalletEvent = {
      type: 'FundsDeposited',
      data: {
        eventId: '01970000-0000-7000-8000-00000000f00d',
        walletId,
        depositId: '01970000-0000-7000-8000-00000000beef',
        amount: 77,
        currency: 'EUR',
        balance: data.balance + 77,
        version: data.version + 1,
        occurredAt: Date.now(),
      },
    };
    // Support's token: these wallets' events were produced here, without an owner.
    const auth = await testIssuer().bearer('support', 'wallets:read:any');
    const read = fetch(`${queryApi.url}/v1/wallets/${walletId}?minVersion=${data.version + 1}`, { headers: auth });
    await sleep(100);
    await produce([next]);
    const res = await read;
    expect(res.status).toBe(200);
    expect(res.headers.get('sluice-stale')).toBeNull();
    expect(await res.json()).toMatchObject({
      version: data.version + 1,
      balance: data.balance + 77,
      held: Number(rows[0]!.held),
    });
    const history = await fetch(`${queryApi.url}/v1/wallets/${walletId}/transactions?limit=1&minVersion=${data.version + 1}`, {
      headers: auth,
    });
    expect(await history.json()).toMatchObject({ items: [{ type: 'deposit', amount: 77, version: data.version + 1 }] });
  });
});
