import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client } from 'pg';
import { appliedRecords, liveVersions as liveVersionsOf, newestVersion, versionKey } from '@sluice/projection-kit';
import { javaKafkaProperties, testEnv, uniqueName } from '@sluice/testing';
import type { BenchSetup } from './setup';

const ROOT = resolve(__dirname, '../../..');

export interface Rate {
  readonly events: number;
  /** From starting the process to the last record applied: what a user waits, start-up and group join included. */
  readonly wallSeconds: number;
  /** events / wallSeconds: the figure the targets are checked against. */
  readonly eventsPerSecond: number;
  /** The slope between 10 % and 90 % applied: the steady rate, without start-up and the last stragglers. */
  readonly steadyEventsPerSecond: number;
}

/** Runs a command to the end, its output captured; rejects on a non-zero exit. */
export function run(
  cmd: string,
  args: string[],
  options: { env?: Record<string, string>; input?: (stdin: NodeJS.WritableStream) => Promise<void> } = {},
) {
  return new Promise<{ stdout: string; stderr: string }>((resolveRun, reject) => {
    const child = spawn(cmd, args, { cwd: ROOT, env: { ...process.env, ...options.env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('error', reject);
    child.once('exit', (code) =>
      code === 0
        ? resolveRun({ stdout, stderr })
        : reject(new Error(`${cmd} ${args.join(' ')} exited ${code}: ${stderr.slice(-2_000)}`)),
    );
    if (options.input) {
      options.input(child.stdin).then(
        () => child.stdin.end(),
        (err: unknown) => reject(err as Error),
      );
    } else child.stdin.end();
  });
}

/** Kafka's own consumer (kafka-consumer-perf-test) reading the whole topic: the broker's ceiling on this machine. */
export async function consumerPerfTest(
  topic: string,
  events: number,
): Promise<{ eventsPerSecond: number; fetchEventsPerSecond: number; mbPerSecond: number; seconds: number }> {
  // The admin connection (TLS, SASL) for Kafka's Java tool, in a file beside the broker's (0600: it holds the password).
  const clientConfig = join(ROOT, '.run/bench-consumer.properties');
  const props = Object.entries(javaKafkaProperties()).map(([k, v]) => `${k}=${v.replace(/\\/g, '\\\\')}`);
  writeFileSync(clientConfig, `${props.join('\n')}\n`, { mode: 0o600 });
  const { stdout } = await run('java', [
    '-Xmx512m',
    '-cp',
    join(ROOT, '.run/kafka/libs/*'),
    'org.apache.kafka.tools.ConsumerPerformance',
    '--bootstrap-server',
    testEnv.kafkaBrokers.join(','),
    '--topic',
    topic,
    '--messages',
    String(events),
    '--group',
    uniqueName('bench-perf'),
    '--timeout',
    '60000',
    '--consumer.config',
    clientConfig,
  ]);
  // start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec, rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec
  const line = stdout
    .trim()
    .split('\n')
    .at(-1)!
    .split(',')
    .map((s) => s.trim());
  const msgs = Number(line[4]);
  const fetchMs = Number(line[7]);
  return {
    eventsPerSecond: Number(line[5]),
    fetchEventsPerSecond: Number(line[9]),
    mbPerSecond: Number(line[3]),
    seconds: fetchMs / 1000 || msgs / Number(line[5]),
  };
}

/**
 * COPY of one row per event, shaped like the transaction history's table
 * (same columns and primary key), into an empty table, through psql: what
 * PostgreSQL ingests at best on this machine.
 */
export async function copyCeiling(url: string, events: number): Promise<{ seconds: number; rowsPerSecond: number }> {
  const pg = new Client({ connectionString: url });
  await pg.connect();
  await pg.query('DROP TABLE IF EXISTS copy_ceiling');
  await pg.query(
    `CREATE TABLE copy_ceiling (wallet_id uuid NOT NULL, version integer NOT NULL, type varchar(32) NOT NULL, amount bigint NOT NULL,
       currency char(3) NOT NULL, balance bigint NOT NULL, reference uuid NOT NULL, event_id uuid NOT NULL,
       occurred_at timestamptz NOT NULL, projected_at timestamptz DEFAULT now() NOT NULL, PRIMARY KEY (wallet_id, version))`,
  );
  await pg.end();
  const wallets = Math.max(1_000, Math.round(events / 100));
  const uuid = (n: number) => `00000000-0000-4000-8000-${n.toString(16).padStart(12, '0')}`;
  const started = performance.now();
  await run(
    'psql',
    [
      url,
      '-q',
      '-c',
      '\\copy copy_ceiling (wallet_id, version, type, amount, currency, balance, reference, event_id, occurred_at) FROM STDIN WITH (FORMAT csv)',
    ],
    {
      input: async (stdin) => {
        const at = new Date().toISOString();
        for (let i = 0; i < events; i += 10_000) {
          let chunk = '';
          for (let j = i; j < Math.min(events, i + 10_000); j++) {
            chunk += `${uuid(j % wallets)},${Math.floor(j / wallets) + 1},deposit,${1 + (j % 9_999)},EUR,${j},${uuid(events + j)},${uuid(2 * events + j)},${at}\n`;
          }
          if (!stdin.write(chunk)) await new Promise((r) => stdin.once('drain', r));
        }
      },
    },
  );
  const seconds = (performance.now() - started) / 1000;
  return { seconds, rowsPerSecond: events / seconds };
}

/**
 * Polls how far the slowest of the given projection versions is (summed next
 * offsets, every 100 ms) until it reaches `events`; times it from `startedAt`
 * and takes the steady rate from the samples between 10 % and 90 %.
 */
export async function timeUntilApplied(
  url: string,
  versions: () => Promise<{ projection: string; version: number }[]>,
  events: number,
  startedAt: number,
  progress: (applied: number) => void,
  timeoutMs = 30 * 60_000,
): Promise<Rate> {
  const pg = new Client({ connectionString: url });
  await pg.connect();
  const samples: { at: number; applied: number }[] = [];
  try {
    for (;;) {
      const refs = await versions().catch(() => []);
      let applied = 0;
      if (refs.length > 0) {
        const byVersion = await appliedRecords(pg, refs);
        applied = byVersion.size === refs.length ? Math.min(...refs.map((r) => byVersion.get(versionKey(r))!)) : 0;
      }
      const now = performance.now();
      samples.push({ at: now, applied });
      progress(applied);
      if (applied >= events) {
        const wallSeconds = (now - startedAt) / 1000;
        return { events, wallSeconds, eventsPerSecond: events / wallSeconds, steadyEventsPerSecond: steadyRate(samples, events) };
      }
      if (now - startedAt > timeoutMs) throw new Error(`only ${applied} of ${events} events applied in ${timeoutMs} ms`);
      await sleep(100);
    }
  } finally {
    await pg.end();
  }
}

/** Events per second between the first sample at or past 10 % and the first at or past 90 %. */
function steadyRate(samples: readonly { at: number; applied: number }[], events: number): number {
  const from = samples.find((s) => s.applied >= events * 0.1);
  const to = samples.find((s) => s.applied >= events * 0.9);
  if (!from || !to || to.at <= from.at) return NaN;
  return (to.applied - from.applied) / ((to.at - from.at) / 1000);
}

export async function liveVersions(url: string): Promise<{ projection: string; version: number }[]> {
  const pg = new Client({ connectionString: url });
  await pg.connect();
  try {
    const live = await liveVersionsOf(pg);
    return live.length === 3 ? live : [];
  } finally {
    await pg.end();
  }
}

export async function buildingVersion(url: string, projection: string): Promise<{ projection: string; version: number }[]> {
  const pg = new Client({ connectionString: url });
  await pg.connect();
  try {
    const newest = await newestVersion(pg, projection, ['building', 'live']);
    return newest && newest.version > 1 ? [{ projection, version: newest.version }] : [];
  } finally {
    await pg.end();
  }
}

/** Means of the projector's batch histograms, from its /metrics. */
export async function batchStats(metricsUrl: string): Promise<{ meanBatchSize: number; meanBatchMs: number }> {
  const text = await (await fetch(metricsUrl)).text();
  const value = (name: string) =>
    Number(new RegExp(`^${name}\\{[^}]*projection="wallet"[^}]*\\} ([0-9.e+-]+)$`, 'm').exec(text)?.[1] ?? NaN);
  return {
    meanBatchSize: value('sluice_projector_batch_size_sum') / value('sluice_projector_batch_size_count'),
    meanBatchMs:
      (1000 * value('sluice_projector_batch_duration_seconds_sum')) / value('sluice_projector_batch_duration_seconds_count'),
  };
}

export function setupEnv(setup: BenchSetup, group: string): Record<string, string> {
  return {
    DATABASE_URL: setup.url,
    ...testEnv.kafkaEnv,
    SCHEMA_REGISTRY_URL: testEnv.registryUrl,
    OUTBOX_TOPIC_PATTERN: setup.pattern,
    PROJECTOR_GROUP_ID: group,
    LOG_LEVEL: 'warn',
  };
}
