import { checkInvariants, fetchExecutedPayouts, type ReadModelBalances } from '@sluice/invariants';
import { readTopic } from '../kafka';
import { waitFor } from '../wait';
import type { ClusterPlatform } from './cluster-platform';
import type { PublishedEvent } from './recovery';
import type { AcceptedOperation } from './steady-load';

/** What a broker failure must not have done; every list empty and every count 0 when nothing was lost or doubled. */
export interface IntegrityReport {
  outboxEvents: number;
  kafkaRecords: number;
  /** Outbox events (committed) that are not on the event topic. */
  missingInKafka: string[];
  /** Records on the event topic whose event id came before (at-least-once delivery may repeat; consumers dedupe). */
  duplicatesInKafka: number;
  /** Accepted deposits the command side has no row of. */
  depositsNotRecorded: string[];
  /** Wallets whose read model differs from the sums of their deposits and completed withdrawals, or from the command side's version. */
  walletMismatches: string[];
  /** Accepted withdrawals whose saga is not over (completed, or failed and compensated). */
  unfinishedWithdrawals: string[];
  /** @sluice/invariants' findings, settled and read model included. */
  invariantViolations: string[];
  /** Records on the consumers' dead-letter topics. */
  deadLetters: number;
  /** Every outbox event with its place on the topic, for the recovery times. */
  events: PublishedEvent[];
}

/** Waits until the pipeline has caught up: every withdrawal over, every wallet's read model at the command side's version. */
export async function settle(
  platform: ClusterPlatform,
  operations: readonly AcceptedOperation[],
  timeoutMs = 90_000,
): Promise<void> {
  const withdrawals = operations.filter((o) => o.kind === 'withdrawal').map((o) => o.id);
  await waitFor(
    'every withdrawal over and the read model at the command side',
    async () => {
      const { rows: open } = await platform.pool.query<{ id: string; status: string }>(
        `SELECT id, status FROM withdrawals WHERE id = ANY($1::uuid[]) AND status NOT IN ('completed', 'compensated')`,
        [withdrawals],
      );
      if (open.length > 0) throw new Error(`${open.length} withdrawals open, e.g. ${open[0]!.id} ${open[0]!.status}`);
      const { rows: behind } = await platform.pool.query<{ id: string }>(
        `SELECT w.id FROM wallets w LEFT JOIN wallet_balances b ON b.wallet_id = w.id
          WHERE b.version IS DISTINCT FROM w.version`,
      );
      if (behind.length > 0) throw new Error(`${behind.length} wallets behind in the read model`);
      return true;
    },
    { timeoutMs, intervalMs: 250 },
  );
}

/**
 * Compares the outbox with the event topic, the read model (read page by page with `readModel`, the
 * wallet projection's reader) with the command side and the sums, and counts dead letters.
 */
export async function checkIntegrity(
  platform: ClusterPlatform,
  operations: readonly AcceptedOperation[],
  readModel: ReadModelBalances,
): Promise<IntegrityReport> {
  const { pool, cluster } = platform;
  const records = await readTopic(cluster.admin, platform.eventTopic, 60_000);
  const placed = new Map<string, { partition: number; offset: number }>();
  let duplicatesInKafka = 0;
  for (const r of records) {
    const id = r.message.headers?.id?.toString();
    if (id === undefined) continue;
    if (placed.has(id)) duplicatesInKafka++;
    else placed.set(id, { partition: r.partition, offset: Number(r.offset) });
  }
  const { rows: outbox } = await pool.query<{ id: string; at: number }>(
    `SELECT id::text, (extract(epoch FROM "timestamp") * 1000)::float8 AS at FROM outbox`,
  );
  const events: PublishedEvent[] = [];
  const missingInKafka: string[] = [];
  for (const row of outbox) {
    const where = placed.get(row.id);
    if (where) events.push({ id: row.id, ...where, committedAt: row.at });
    else missingInKafka.push(row.id);
  }

  const deposits = operations.filter((o) => o.kind === 'deposit').map((o) => o.id);
  const { rows: recorded } = await pool.query<{ id: string }>('SELECT id::text FROM deposits WHERE id = ANY($1::uuid[])', [
    deposits,
  ]);
  const recordedIds = new Set(recorded.map((r) => r.id));

  const { rows: wallets } = await pool.query<{
    id: string;
    expected: string;
    balance: string | null;
    version: number;
    seen: number | null;
  }>(
    `SELECT w.id::text, w.version, b.version AS seen, b.balance::text,
            ((SELECT COALESCE(sum(amount), 0) FROM deposits d WHERE d.wallet_id = w.id)
             - (SELECT COALESCE(sum(amount), 0) FROM withdrawals x WHERE x.wallet_id = w.id AND x.status = 'completed'))::text AS expected
       FROM wallets w LEFT JOIN wallet_balances b ON b.wallet_id = w.id`,
  );
  const walletMismatches = wallets
    .filter((w) => w.balance !== w.expected || w.seen !== w.version)
    .map((w) => `${w.id}: read model ${w.balance} at version ${w.seen}, expected ${w.expected} at version ${w.version}`);

  const withdrawals = operations.filter((o) => o.kind === 'withdrawal').map((o) => o.id);
  const { rows: over } = await pool.query<{ id: string }>(
    `SELECT withdrawal_id::text AS id FROM payment_sagas
      WHERE withdrawal_id = ANY($1::uuid[])
        AND ((state = 'completed' AND wallet_state = 'completed') OR (state = 'failed' AND wallet_state = 'compensated'))`,
    [withdrawals],
  );
  const overIds = new Set(over.map((r) => r.id));

  const payouts = await fetchExecutedPayouts(platform.services['psp-simulator']!.url);
  const report = await checkInvariants({ pool, payouts, settled: true, readModel });

  return {
    outboxEvents: outbox.length,
    kafkaRecords: records.length,
    missingInKafka,
    duplicatesInKafka,
    depositsNotRecorded: deposits.filter((id) => !recordedIds.has(id)),
    walletMismatches,
    unfinishedWithdrawals: withdrawals.filter((id) => !overIds.has(id)),
    invariantViolations: report.violations.map((v) => `${v.code}: ${v.detail}`),
    deadLetters: await deadLetterCount(platform),
    events,
  };
}

async function deadLetterCount(platform: ClusterPlatform): Promise<number> {
  const admin = platform.cluster.admin.admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    let total = 0;
    for (const topic of platform.deadLetterTopics.filter((t) => existing.has(t))) {
      for (const p of await admin.fetchTopicOffsets(topic)) total += Number(p.high) - Number(p.low);
    }
    return total;
  } finally {
    await admin.disconnect();
  }
}
