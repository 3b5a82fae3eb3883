import { execFileSync, spawn } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, rmSync, writeFileSync, type WriteStream } from 'node:fs';
import { dirname, join } from 'node:path';
import { renderEdgeConfig, renderEdgeMtailProgram, type EdgeOptions } from '@sluice/edge';
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
export const nginxBinary = (): string => installed('install', 'nginx');

/** mtail, which counts the edge's refusals as `make up` runs it, installed the same way. */
export const mtailBinary = (): string => installed('install-mtail', 'mtail');

function installed(command: string, what: string): string {
  const out = execFileSync(join(repoRoot(), 'deploy/local/edge.sh'), [command], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const bin = out.trim().split('\n').pop();
  if (!bin) throw new Error(`deploy/local/edge.sh ${command} printed no ${what} binary`);
  return bin;
}

export interface EdgeProcess {
  readonly url: string;
  readonly port: number;
  readonly config: string;
  /** mtail's /metrics, counting the edge's own refusals (startEdge with countRefusals). */
  readonly metricsUrl?: string;
  stop(): Promise<void>;
}

type Child = ReturnType<typeof spawn>;

function run(bin: string, args: string[], out: WriteStream): { child: Child; exited: Promise<void> } {
  const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout?.pipe(out);
  child.stderr?.pipe(out);
  return { child, exited: new Promise<void>((resolve) => child.once('exit', () => resolve())) };
}

async function kill({ child, exited }: { child: Child; exited: Promise<void> }): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) {
    child.kill('SIGTERM');
    await exited;
  }
}

/**
 * Runs nginx with renderEdgeConfig(options) on a free loopback port, its
 * configuration, pid and temporary files under .run/tests/edge-<port>/ (removed
 * when it stops), its log in .run/logs/tests/edge-<port>.log.
 */
export async function startEdge(
  options: Omit<EdgeOptions, 'listen' | 'pidFile' | 'errorLog' | 'tempDir' | 'refusalLog'>,
  { countRefusals = false } = {},
): Promise<EdgeProcess> {
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
    ...(countRefusals && { refusalLog: join(dir, 'refusals.log') }),
  });
  const file = join(dir, 'nginx.conf');
  writeFileSync(file, config);
  const out = createWriteStream(join(dir, 'stdout.log'), { flags: 'a' });
  const nginx = run(bin, ['-c', file, '-p', dir, '-e', log], out);
  const { child } = nginx;
  let mtail: ReturnType<typeof run> | undefined;
  let metricsUrl: string | undefined;
  if (countRefusals) {
    mkdirSync(join(dir, 'mtail'));
    writeFileSync(join(dir, 'mtail/edge.mtail'), renderEdgeMtailProgram());
    writeFileSync(join(dir, 'refusals.log'), '');
    const metricsPort = await freePort();
    metricsUrl = `http://127.0.0.1:${metricsPort}/metrics`;
    const args = ['-progs', join(dir, 'mtail'), '-logs', join(dir, 'refusals.log'), '-address', '127.0.0.1'];
    mtail = run(mtailBinary(), [...args, '-port', String(metricsPort), '-logtostderr', '-emit_prog_label=false'], out);
  }
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    await kill(nginx);
    if (mtail) await kill(mtail);
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
    if (mtail && metricsUrl) {
      const { child: counter } = mtail;
      await waitFor(
        `mtail to serve ${metricsUrl}`,
        async () => {
          if (counter.exitCode !== null) throw new Error(`mtail exited with code ${counter.exitCode}; see ${dir}/stdout.log`);
          return (await fetch(metricsUrl).catch(() => undefined))?.ok === true;
        },
        { timeoutMs: 15_000, intervalMs: 100 },
      );
    }
  } catch (err) {
    if (child.exitCode === null) child.kill('SIGKILL');
    mtail?.child.kill('SIGKILL');
    throw err;
  }
  return { url, port, config, ...(metricsUrl && { metricsUrl }), stop };
}
