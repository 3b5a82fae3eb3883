import { setTimeout as sleep } from 'node:timers/promises';
import { Pool } from 'pg';
import { loadConfig, z } from '@sluice/config';
import { createKafka, routeTopic } from '@sluice/messaging';
import { createLogger } from '@sluice/observability';
import { aclNamesEnv, aclPlan, namespaceEnv, platformKafkaNames, removeAcls, type PlatformNamespace } from '@sluice/platform';
import { createTestDatabase, testEnv } from '@sluice/testing';
import { HttpTarget, RoundRobinTarget, runOpenModel, summarizeLatencies, type LoadTarget } from '../loadgen';
import type { PlatformBenchArgs } from './args';
import { LIMITS, verdict } from './capacity';
import {
  classifyBackend,
  CpuWindow,
  findProcesses,
  platformTotal,
  postgresPids,
  readMachineStat,
  TICKS_PER_SEC,
  uptimeTicks,
} from './cpu';
import { startPlatform, stopPlatform, type Running } from './launch';
import { releasePlatform } from './release';
import { HopProbe, type HopTimes } from './probe';
import { waitQuiet } from './settle';
import { benchBearer } from '../auth';

const PARTITIONS = 12;

/** One step's figures: a load step (CPU per deposit) or the idle one (CPU per second). */
export interface StepResult {
  label: string;
  offered: number;
  seconds: number;
  /** The CPU window: the load, then until every followed deposit showed. */
  windowSec: number;
  sent: number;
  ok: number;
  acceptedPerSec: number;
  /** Answers other than 201, by status (and problem code). */
  errors: Record<string, number>;
  apiP50: number;
  apiP99: number;
  followed: number;
  invisible: number;
  visibleP50: number;
  visibleP99: number;
  hops: { commitToKafka: [number, number]; kafkaToApplied: [number, number]; appliedToVisible: [number, number] };
  /** CPU ms per class over the window. */
  cpuMs: Record<string, number>;
  machineBusyMs: number;
  /** Per accepted deposit (the idle step: per second). */
  platformCpuPerUnit: number;
  machineCpuPerUnit: number;
  pass: boolean;
  reasons: string[];
}

/** A build to run: a checkout's dist/, with settings over every service's own (a variant's). */
export interface BenchBuild {
  name: string;
  root: string;
  env?: Record<string, string>;
}

export interface BuildRound {
  build: string;
  root: string;
  round: number;
  /** The machine's busy CPU (ms/s) just before this build's platform started. */
  machineBusyBefore: number;
  idle: StepResult;
  steps: StepResult[];
  half: StepResult | undefined;
}

const p = (values: number[], q: number) => summarizeLatencies(values)[q === 50 ? 'p50' : 'p99'];

function hopFigures(hops: readonly HopTimes[]): StepResult['hops'] & { visible: number[] } {
  const pair = (f: (h: HopTimes) => number): [number, number] => {
    const v = hops.map(f);
    return [p(v, 50), p(v, 99)];
  };
  return {
    commitToKafka: pair((h) => h.kafka - h.commit),
    kafkaToApplied: pair((h) => h.applied - h.kafka),
    appliedToVisible: pair((h) => h.visible - h.applied),
    visible: hops.map((h) => h.visible - h.commit),
  };
}

/**
 * One build's platform, started on a fresh database and topics, run through
 * the idle step, a warm-up, the rate steps and (when asked) a step at
 * `halfRate`; stopped and cleaned up after.
 */
export async function runBuild(
  args: PlatformBenchArgs,
  build: BenchBuild,
  round: number,
  halfRate: (steps: readonly StepResult[]) => number | undefined,
  say: (line: string) => void,
): Promise<BuildRound> {
  const machineBusyBefore = await waitQuiet(args.quietBelow, 120, say);
  const id = `platbench_${Date.now().toString(36)}`;
  const db = await createTestDatabase('platbench');
  const ns: PlatformNamespace = { id, databaseUrl: db.url, portOffset: args.portOffset };
  const names = namespaceEnv(ns);
  const logger = createLogger('platform-bench', 'warn');
  const kafka = createKafka({ ...testEnv.kafka, clientId: 'sluice-bench', logger });
  const eventTopic = routeTopic(names.OUTBOX_TOPIC_PATTERN!, 'wallet');
  const logDir = `${build.root}/.run/logs/bench-platform/${id}`;
  let running: Running[] = [];
  const pool = new Pool({ connectionString: db.url, application_name: 'sluice-bench', max: 2 });
  pool.on('error', () => undefined); // an idle connection ended by the server: the next query opens another
  let probe: HopProbe | undefined;
  const targets: LoadTarget[] = [];
  try {
    say(`[${build.name}, round ${round}] starting the platform from ${build.root} (database ${db.name}, topics ${id}.*)`);
    const env = await releasePlatform(build.root, ns, PARTITIONS, `${logDir}/release.log`, say);
    running = await startPlatform(build.root, ns, args.replicas, env, logDir, say, build.env);
    const byService = (name: string) => running.filter((r) => r.proc.service.name === name);
    const commands = new RoundRobinTarget(byService('command-api').map((r) => new HttpTarget(r.url, args.connections)));
    const queries = new RoundRobinTarget(byService('query-api').map((r) => new HttpTarget(r.url, 32)));
    targets.push(commands, queries);
    const auth = await benchBearer();
    probe = new HopProbe({
      ...testEnv.kafka,
      topic: eventTopic,
      partitions: PARTITIONS,
      samplePartitions: args.samplePartitions,
      groupId: `${id}.bench-probe`,
      query: queries,
      auth,
    });
    await probe.start();
    const wallets = await openWallets(commands, args.wallets);
    say(`  ${wallets.length} wallets open, ${wallets.filter((w) => probe!.followed(w)).length} of them followed hop by hop`);
    await sleep(3_000); // the welcome bonuses go through

    const brokers = findProcesses((c) => c.includes('kafka.Kafka'));
    const registries = findProcesses((c) => c.includes('java') && c.includes('apicurio'));
    const processes = async (withStatic: boolean): Promise<Map<number, string>> => {
      const m = new Map<number, string>();
      if (withStatic) for (const pid of postgresPids()) m.set(pid, 'pg other');
      for (const r of running) if (r.child.pid) m.set(r.child.pid, r.proc.service.name);
      m.set(process.pid, 'generator');
      for (const pid of brokers) m.set(pid, 'kafka broker');
      for (const pid of registries) m.set(pid, 'registry');
      const { rows } = await pool.query<{ pid: number; datname: string | null; application_name: string; backend_type: string }>(
        'SELECT pid, datname, application_name, backend_type FROM pg_stat_activity',
      );
      for (const r of rows)
        m.set(
          r.pid,
          classifyBackend(
            { pid: r.pid, datname: r.datname, applicationName: r.application_name, backendType: r.backend_type },
            db.name,
          ),
        );
      return m;
    };

    const measure = async (label: string, rate: number, seconds: number): Promise<StepResult> => {
      const cpu = new CpuWindow();
      cpu.open(await processes(true), uptimeTicks());
      const machine0 = readMachineStat();
      const t0 = performance.now();
      const sampler = setInterval(() => {
        void processes(false).then(
          (m) => cpu.sample(m),
          () => undefined,
        );
      }, 1_000);
      let sent = 0;
      const rec =
        rate > 0
          ? await runOpenModel(commands, [{ name: label, ratePerSec: rate, durationSec: seconds }], {
              request: (i) => {
                sent++;
                return {
                  method: 'POST',
                  path: `/v1/wallets/${wallets[i % wallets.length]}/deposits`,
                  headers: { ...auth, 'idempotency-key': `${id}-${label.replace(/\W/g, '_')}-${i}` },
                  body: `{"amount":${1 + (i % 1000)},"currency":"EUR"}`,
                };
              },
              onResponse: (_i, req, res) => {
                if (res.status !== 201) return;
                const walletId = req.path.split('/')[3]!;
                if (probe!.followed(walletId)) probe!.watch(walletId, Number(/"version":(\d+)/.exec(res.body)?.[1]));
              },
              progress: (line) => say(`  [${label}]${line}`),
            })
          : await sleep(seconds * 1000).then(() => undefined);
      await probe!.drain(15_000);
      clearInterval(sampler);
      const cpuMs = Object.fromEntries(cpu.close(await processes(false)));
      const machine1 = readMachineStat();
      const windowSec = (performance.now() - t0) / 1000;
      const { hops, invisible, watched } = await probe!.collect(pool);
      const samples = rec?.samples ?? [];
      const ok = samples.filter((s) => s.status === 201);
      const errors: Record<string, number> = {};
      for (const s of samples)
        if (s.status !== 201)
          errors[`${s.status}${s.code ? ` ${s.code}` : ''}`] = (errors[`${s.status}${s.code ? ` ${s.code}` : ''}`] ?? 0) + 1;
      const api = summarizeLatencies(samples.map((s) => s.latencyMs));
      const h = hopFigures(hops);
      const vis = summarizeLatencies(h.visible);
      const machineBusyMs = ((machine1.busy - machine0.busy) * 1000) / TICKS_PER_SEC;
      const unit = rate > 0 ? ok.length : windowSec;
      const step: StepResult = {
        label,
        offered: rate,
        seconds,
        windowSec,
        sent,
        ok: ok.length,
        acceptedPerSec: ok.length / seconds,
        errors,
        apiP50: api.p50,
        apiP99: api.p99,
        followed: watched,
        invisible,
        visibleP50: vis.p50,
        visibleP99: vis.p99,
        hops: { commitToKafka: h.commitToKafka, kafkaToApplied: h.kafkaToApplied, appliedToVisible: h.appliedToVisible },
        cpuMs,
        machineBusyMs,
        platformCpuPerUnit: platformTotal(new Map(Object.entries(cpuMs))) / unit,
        machineCpuPerUnit: machineBusyMs / unit,
        pass: false,
        reasons: [],
      };
      if (rate > 0)
        Object.assign(step, verdict({ offered: rate, sent, ok: ok.length, apiP99: api.p99, visibleP99: vis.p99, invisible }));
      say(
        `  [${label}] accepted ${step.acceptedPerSec.toFixed(0)}/s, API p99 ${step.apiP99.toFixed(1)} ms, visible p99 ${step.visibleP99.toFixed(1)} ms (${hops.length} followed), platform CPU ${step.platformCpuPerUnit.toFixed(2)} ms per ${rate > 0 ? 'deposit' : 's'}${rate > 0 ? (step.pass ? ', pass' : `, FAIL: ${step.reasons.join('; ')}`) : ''}`,
      );
      return step;
    };

    say(`  idle for ${args.idleSeconds} s`);
    const idle = await measure('idle', 0, args.idleSeconds);
    if (args.warmupSeconds > 0) {
      say(`  warm-up at ${args.rates[0]}/s for ${args.warmupSeconds} s`);
      await measure('warm-up', args.rates[0]!, args.warmupSeconds);
    }
    const steps: StepResult[] = [];
    for (const rate of args.rates) {
      const step = await measure(String(rate), rate, args.stepSeconds);
      steps.push(step);
      // Far past saturation every further step fails the same way, and slowly; short of it a step
      // may fail to a noisy neighbour on a shared machine and the next still say something.
      if (step.acceptedPerSec < 0.5 * rate || step.apiP99 > 40 * LIMITS.apiP99Ms) break;
    }
    const half = halfRate(steps);
    const halfStep = half ? await measure(`half ${half}`, half, args.stepSeconds) : undefined;
    return { build: build.name, root: build.root, round, machineBusyBefore, idle, steps, half: halfStep };
  } finally {
    for (const t of targets) t.close();
    await probe?.stop().catch(() => undefined);
    await stopPlatform(running);
    await pool.end();
    await deleteTopics(kafka, `${id}.`).catch(() => undefined);
    // The grants `sluice acls apply` made for the namespace.
    const grants = aclPlan(platformKafkaNames(names.OUTBOX_TOPIC_PATTERN!, loadConfig(z.object(aclNamesEnv), names)));
    await removeAcls(kafka, grants).catch(() => undefined);
    await db.drop();
  }
}

/** Opens `count` EUR wallets through the API, 16 at a time; a 429 or 503 (a process just started) is sent again. */
async function openWallets(target: LoadTarget, count: number): Promise<string[]> {
  const open = async (key: string): Promise<string> => {
    for (let attempt = 1; ; attempt++) {
      const res = await target.send({
        method: 'POST',
        path: '/v1/wallets',
        headers: { ...(await benchBearer()), 'idempotency-key': key },
        body: '{"currency":"EUR"}',
      });
      const walletId = /"walletId":"([^"]+)"/.exec(res.body)?.[1];
      if (res.status === 201 && walletId) return walletId;
      if ((res.status !== 429 && res.status !== 503) || attempt >= 20)
        throw new Error(`opening a wallet: ${res.status} ${res.body}`);
      await sleep(500);
    }
  };
  const ids: string[] = [];
  for (let i = 0; i < count; i += 16) {
    const n = Math.min(16, count - i);
    ids.push(...(await Promise.all(Array.from({ length: n }, (_, j) => open(`open-${process.pid}-${Date.now()}-${i + j}`)))));
  }
  return ids;
}

async function deleteTopics(kafka: ReturnType<typeof createKafka>, prefix: string): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const topics = (await admin.listTopics()).filter((t) => t.startsWith(prefix));
    if (topics.length > 0) await admin.deleteTopics({ topics });
  } finally {
    await admin.disconnect();
  }
}
