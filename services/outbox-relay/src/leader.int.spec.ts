import { execFile } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { uuidv7 } from '@sluice/core';
import type { Registry } from '@sluice/observability';
import { TcpProxy, waitFor } from '@sluice/testing';
import { RelayHarness } from './relay-harness';

const run = promisify(execFile);
const CHECK_MS = 200;
const CHECK_TIMEOUT_MS = 500;
const FAST = { RELAY_LEADER_CHECK_MS: String(CHECK_MS), RELAY_LEADER_CHECK_TIMEOUT_MS: String(CHECK_TIMEOUT_MS) };

async function counter(registry: Registry, name: string, labels: Record<string, string> = {}): Promise<number> {
  const metric = await registry.getSingleMetric(name)?.get();
  return (metric?.values ?? [])
    .filter((v) => Object.entries(labels).every(([k, value]) => v.labels[k] === value))
    .reduce((sum, v) => sum + v.value, 0);
}

/** ss's timer text ("1min59sec", "118min", "6.9sec", "950ms") in seconds. */
function secondsOf(timer: string): number {
  const unit: Record<string, number> = { h: 3600, min: 60, sec: 1, ms: 0.001 };
  return [...timer.matchAll(/([\d.]+)(h|min|sec|ms)/g)].reduce((sum, [, n, u]) => sum + Number(n) * unit[u!]!, 0);
}

const lost = (registry: Registry, reason: string) => counter(registry, 'sluice_relay_leader_lost_total', { reason });
const published = (registry: Registry) => counter(registry, 'sluice_relay_events_total');

// The lock is the same in both modes; how a session stops publishing is not, so both run.
describe.each(['wal', 'polling'] as const)('the relay leader lock in %s mode (real PostgreSQL and Kafka)', (mode) => {
  const h = new RelayHarness(mode);
  beforeAll(() => h.setUp());
  afterEach(() => h.stopRelays());
  afterAll(() => h.tearDown());

  /** The backend holding the relay's leader lock in the test database. */
  async function lockHolder(): Promise<{ pid: number; port: number }> {
    const { rows } = await h.pool.query<{ pid: number; port: number }>(
      `SELECT a.pid, a.client_port AS port FROM pg_locks l JOIN pg_stat_activity a USING (pid)
        WHERE l.locktype = 'advisory' AND l.granted AND a.datname = $1 AND a.application_name = 'sluice-outbox-relay-leader'`,
      [h.db.name],
    );
    expect(rows).toHaveLength(1);
    return rows[0]!;
  }

  it('a leader whose lock connection stalls stops publishing within the check interval plus its deadline', async () => {
    const proxy = await TcpProxy.start(h.db.url);
    try {
      const a = await h.startRelay(FAST, { leaderDatabaseUrl: proxy.via(h.db.url) });
      await waitFor('a to lead', () => a.app.relay.state === 'streaming');
      const b = await h.startRelay(FAST);
      const w = uuidv7();
      const before = await h.count();
      await h.commit([h.deposited(w, 2)]);
      await waitFor('a to publish', async () => (await h.count()) === before + 1);
      const byA = await published(a.registry);

      proxy.freeze();
      const frozenAt = Date.now();
      await waitFor('a to count the lock lost', async () => (await lost(a.registry, 'check_timeout')) === 1, {
        timeoutMs: 5_000,
        intervalMs: 20,
      });
      expect(Date.now() - frozenAt).toBeLessThan(CHECK_MS + CHECK_TIMEOUT_MS + 500);
      expect(a.app.leader.held).toBe(false);
      await waitFor('a to stop streaming', () => a.app.relay.state !== 'streaming', { timeoutMs: 2_000, intervalMs: 20 });

      // PostgreSQL still sees a's session holding the lock (a partition passes no close): nobody publishes.
      await h.commit([h.deposited(w, 3)]);
      await sleep(1_500);
      expect(await h.count()).toBe(before + 1);
      expect(await published(a.registry)).toBe(byA);
      expect(b.app.relay.state).toBe('standby');

      // The partition heals: a's old session closes, the lock is free, and the row goes out once.
      proxy.thaw();
      await waitFor('the row to be published', async () => (await h.count()) === before + 2, { timeoutMs: 10_000 });
      await sleep(500);
      expect(await h.count()).toBe(before + 2);
    } finally {
      await h.stopRelays();
      await proxy.close();
    }
  });

  it('the lock session carries the keepalive settings, and the server applies them to its socket', async () => {
    const a = await h.startRelay({
      ...FAST,
      RELAY_LEADER_KEEPALIVE_IDLE_SEC: '7',
      RELAY_LEADER_KEEPALIVE_INTERVAL_SEC: '4',
      RELAY_LEADER_KEEPALIVE_COUNT: '2',
    });
    await waitFor('a to lead', () => a.app.relay.state === 'streaming');
    expect(await a.app.leader.keepalive()).toEqual({ idle: '7', interval: '4', count: '2' });

    // PostgreSQL's end of the lock connection: its keepalive timer runs from 7 s, not the OS's 2 hours.
    const { port } = await lockHolder();
    const pgPort = new URL(h.db.url).port || '5432';
    const { stdout } = await run('ss', ['-tnoH', 'state', 'established', `( sport = :${pgPort} and dport = :${port} )`]);
    const timer = /timer:\(keepalive,([^,]+),/.exec(stdout)?.[1];
    expect(timer).toBeDefined();
    expect(secondsOf(timer!)).toBeLessThanOrEqual(7);
  });

  it('a leader whose lock backend is terminated stops, and a standby takes over', async () => {
    const a = await h.startRelay(FAST);
    await waitFor('a to lead', () => a.app.relay.state === 'streaming');
    const b = await h.startRelay(FAST);
    await sleep(300);
    expect(b.app.relay.state).toBe('standby');

    const { pid } = await lockHolder();
    await h.pool.query('SELECT pg_terminate_backend($1)', [pid]);
    await waitFor('a to count the lock lost', async () => (await lost(a.registry, 'connection_ended')) === 1);
    await waitFor('b to lead', () => b.app.relay.state === 'streaming', { timeoutMs: 5_000 });
    expect(a.app.relay.state).toBe('standby');

    const byA = await published(a.registry);
    const before = await h.count();
    await h.commit([h.deposited(uuidv7(), 2)]);
    await waitFor('b to publish', async () => (await h.count()) === before + 1);
    expect(await published(a.registry)).toBe(byA);
    expect(await published(b.registry)).toBeGreaterThanOrEqual(1);
  });
});
