import { execFileSync, spawn } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { renderEdgeConfig, type EdgeOptions } from '@sluice/edge';
import { freePort } from './processes';
import { waitFor } from './wait';

function repoRoot(): string {
  for (let dir = __dirname; dir !== dirname(dir); dir = dirname(dir)) {
    if (existsSync(join(dir, 'nx.json'))) return dir;
  }
  throw new Error(`no nx.json above ${__dirname}`);
}

/**
 * The nginx binary, installed from Debian's packages by deploy/local/edge.sh
 * when missing (the same path `make up` takes), so tests never skip for want of it.
 */
export function nginxBinary(): string {
  const out = execFileSync(join(repoRoot(), 'deploy/local/edge.sh'), ['install'], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const bin = out.trim().split('\n').pop();
  if (!bin) throw new Error('deploy/local/edge.sh install printed no nginx binary');
  return bin;
}

export interface EdgeProcess {
  readonly url: string;
  readonly port: number;
  readonly config: string;
  stop(): Promise<void>;
}

/**
 * Runs nginx with renderEdgeConfig(options) on a free loopback port, its
 * configuration, pid and temporary files under .run/tests/edge-<port>/ (removed
 * when it stops), its log in .run/logs/tests/edge-<port>.log.
 */
export async function startEdge(options: Omit<EdgeOptions, 'listen' | 'pidFile' | 'errorLog' | 'tempDir'>): Promise<EdgeProcess> {
  const bin = nginxBinary();
  const port = await freePort();
  const dir = join(repoRoot(), '.run/tests', `edge-${port}`);
  mkdirSync(join(dir, 'tmp'), { recursive: true });
  // The log outlives the run directory, next to the services' logs.
  mkdirSync(join(repoRoot(), '.run/logs/tests'), { recursive: true });
  const log = join(repoRoot(), '.run/logs/tests', `edge-${port}.log`);
  const config = renderEdgeConfig({
    ...options,
    listen: `127.0.0.1:${port}`,
    pidFile: join(dir, 'nginx.pid'),
    errorLog: log,
    tempDir: join(dir, 'tmp'),
  });
  const file = join(dir, 'nginx.conf');
  writeFileSync(file, config);
  const out = createWriteStream(join(dir, 'stdout.log'), { flags: 'a' });
  const child = spawn(bin, ['-c', file, '-p', dir, '-e', log], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout.pipe(out);
  child.stderr.pipe(out);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitFor(
      `nginx to answer on ${url} (log: ${log})`,
      async () => {
        if (child.exitCode !== null) throw new Error(`nginx exited with code ${child.exitCode}; see ${log}`);
        const res = await fetch(`${url}/edge/health`).catch(() => undefined);
        return res?.ok === true;
      },
      { timeoutMs: 15_000, intervalMs: 100 },
    );
  } catch (err) {
    if (child.exitCode === null) child.kill('SIGKILL');
    throw err;
  }
  return { url, port, config, stop };
}
