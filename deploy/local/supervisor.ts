import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, writeFileSync } from 'node:fs';
import { setPriority } from 'node:os';
import { join, resolve } from 'node:path';
import { applyCpuClass, devIssuer } from '@sluice/platform';
import { localServices, type LocalService } from './services';

/**
 * Keeps the local Sluice services running, as Kubernetes would: a service that
 * exits or is killed is started again within seconds (1 s, doubling to 5 s
 * while it keeps failing fast). SIGTERM stops every service gracefully.
 *   node dist/deploy/local/supervisor.js <repo root> <run dir>
 */
const root = resolve(process.argv[2] ?? '.');
const runDir = resolve(process.argv[3] ?? join(root, '.run'));
const logDir = join(runDir, 'logs');
mkdirSync(logDir, { recursive: true });

const MIN_RESTART_MS = 1_000;
const MAX_RESTART_MS = 5_000;
const HEALTHY_AFTER_MS = 30_000;
const STOP_GRACE_MS = 15_000;

interface Running {
  service: LocalService;
  child: ChildProcess | undefined;
  startedAt: number;
  restarts: number;
  delayMs: number;
}

const running = new Map<string, Running>();
let stopping = false;

function say(message: string): void {
  process.stdout.write(`${new Date().toISOString()} supervisor: ${message}\n`);
}

/**
 * What every service inherits. Locally /metrics stays on each service's own port, the one the
 * local Prometheus scrapes (libs/platform platformScrapeJobs): a METRICS_PORT left in the shell
 * (one port for every process on this host) is not passed on.
 */
const { METRICS_PORT: _notLocal, ...localEnv } = process.env;

function start(entry: Running): void {
  const { service } = entry;
  const log = createWriteStream(join(logDir, `${service.name}.log`), { flags: 'a' });
  const env = { ...localEnv, ...service.env };
  const child = spawn(process.execPath, ['--enable-source-maps', join(root, service.service.entry)], {
    cwd: root,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const niceness = applyCpuClass(child.pid, service.service, env, setPriority);
  child.stdout.pipe(log);
  child.stderr.pipe(log);
  entry.child = child;
  entry.startedAt = Date.now();
  say(`started ${service.name} (pid ${child.pid}${niceness === undefined ? '' : `, nice ${niceness}`}) on port ${service.port}`);
  writeState();
  child.on('exit', (code, signal) => {
    entry.child = undefined;
    writeState();
    if (stopping) return;
    const ranMs = Date.now() - entry.startedAt;
    entry.delayMs = ranMs > HEALTHY_AFTER_MS ? MIN_RESTART_MS : Math.min(entry.delayMs * 2, MAX_RESTART_MS);
    entry.restarts++;
    say(`${service.name} exited (${signal ?? `code ${code}`}) after ${ranMs} ms; restarting in ${entry.delayMs} ms`);
    setTimeout(() => {
      if (!stopping) start(entry);
    }, entry.delayMs);
  });
}

function writeState(): void {
  const state = [...running.values()].map((r) => ({
    name: r.service.name,
    port: r.service.port,
    pid: r.child?.pid ?? null,
    restarts: r.restarts,
  }));
  writeFileSync(join(runDir, 'services.json'), `${JSON.stringify(state, null, 2)}\n`);
}

async function stopAll(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  say(`${signal}: stopping services`);
  const exits = [...running.values()].reverse().map(async (r) => {
    const child = r.child;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise<void>((res) => child.once('exit', () => res()));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
    await exited;
    clearTimeout(timer);
  });
  await Promise.all(exits);
  writeState();
  say('all services stopped');
  process.exit(0);
}

process.on('SIGTERM', () => void stopAll('SIGTERM'));
process.on('SIGINT', () => void stopAll('SIGINT'));

// The local access-token issuer (created on first start): the APIs trust its JWKS; `make token` signs with its key.
devIssuer(runDir);
for (const service of localServices(process.env, join(runDir, 'keys'), runDir)) {
  const entry: Running = { service, child: undefined, startedAt: 0, restarts: 0, delayMs: MIN_RESTART_MS / 2 };
  running.set(service.name, entry);
  start(entry);
}
