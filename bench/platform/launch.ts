import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync } from 'node:fs';
import { setPriority } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  applyCpuClass,
  ensureCommandKeys,
  platformProcesses,
  type PlatformNamespace,
  type PlatformProcess,
} from '@sluice/platform';
import { localKafkaEnv, testIssuer } from '@sluice/testing';

/** Every process started and not yet exited: sent SIGTERM should the bench exit without stopping them (a crash, Ctrl-C). */
const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of live) child.kill('SIGTERM');
});
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(130));

/** One started process of the platform. */
export interface Running {
  proc: PlatformProcess;
  child: ChildProcess;
  url: string;
}

/**
 * The platform as `make up` runs it (libs/platform's description, each
 * service's defaults), from the build in `root` (this checkout or a
 * baseline's), in its own namespace, with the services' logs in `logDir`:
 * each service as its own database role and Kafka principal, on what
 * releasePlatform made, with `env` (its settings for every service) and
 * `overrides` over each service's own settings (a variant's).
 * Started in the supervisor's order, each waited for before the next.
 */
export async function startPlatform(
  root: string,
  namespace: PlatformNamespace,
  replicas: number,
  env: Record<string, string>,
  logDir: string,
  say: (line: string) => void,
  overrides: Record<string, string> = {},
): Promise<Running[]> {
  mkdirSync(logDir, { recursive: true });
  const running: Running[] = [];
  try {
    const commandKeys = ensureCommandKeys(join(logDir, 'keys'));
    // The APIs trust the bench's issuer (its JWKS file), whose tokens the load carries.
    const processes = platformProcesses({
      replicas,
      namespace,
      roles: { databaseUrl: namespace.databaseUrl },
      commandKeys,
      auth: testIssuer().env(),
      kafka: localKafkaEnv,
    });
    for (const proc of processes) {
      const entry = join(root, proc.service.entry);
      if (!existsSync(entry)) throw new Error(`${entry} is missing: run npm run build in ${root}`);
      const log = createWriteStream(join(logDir, `${proc.name}.log`), { flags: 'a' });
      const childEnv = { ...process.env, ...env, ...proc.env, ...overrides };
      const child = spawn(process.execPath, ['--enable-source-maps', entry], {
        cwd: root,
        env: childEnv,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const niceness = applyCpuClass(child.pid, proc.service, childEnv, setPriority);
      child.stdout.pipe(log);
      child.stderr.pipe(log);
      live.add(child);
      child.once('exit', () => live.delete(child));
      const r = { proc, child, url: `http://127.0.0.1:${proc.port}` };
      running.push(r);
      await waitReady(r, 90_000);
      say(`  ${proc.name} ready on :${proc.port} (pid ${child.pid}${niceness === undefined ? '' : `, nice ${niceness}`})`);
    }
  } catch (err) {
    await stopPlatform(running);
    throw err;
  }
  return running;
}

async function waitReady(r: Running, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (r.child.exitCode !== null) throw new Error(`${r.proc.name} exited with code ${r.child.exitCode}`);
    const res = await fetch(`${r.url}/health/ready`).catch(() => undefined);
    if (res?.ok) return;
    await sleep(250);
  }
  throw new Error(`${r.proc.name} not ready on ${r.url} after ${timeoutMs} ms`);
}

/** SIGTERM to every process, last started first; SIGKILL after 15 s. */
export async function stopPlatform(running: readonly Running[]): Promise<void> {
  await Promise.all(
    [...running].reverse().map(async ({ child }) => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise<void>((res) => child.once('exit', () => res()));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    }),
  );
}
