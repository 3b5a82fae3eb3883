import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { commandSigningEnv } from './command-keys';
import { testEnv } from './env';
import { waitFor } from './wait';

/** The repository root, whether this runs from source (jest) or from dist/ (benches). */
export function repoRoot(): string {
  for (let dir = __dirname; dir !== dirname(dir); dir = dirname(dir)) {
    if (existsSync(join(dir, 'nx.json'))) return dir;
  }
  throw new Error(`no nx.json above ${__dirname}`);
}

const ROOT = repoRoot();
/** The build the services run from: dist/, or SLUICE_DIST_DIR (a build of one's own beside the shared one). */
const DIST = process.env.SLUICE_DIST_DIR ?? join(ROOT, 'dist');

/** A free TCP port on loopback, so tests never collide with a running `make up`. */
export async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const server = createServer();
    server.once('error', rej);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? res(address.port) : rej(new Error('no port'))));
    });
  });
}

export interface ServiceProcess {
  readonly name: string;
  readonly port: number;
  readonly url: string;
  /** Sends a signal (SIGKILL for a crash) and waits for the exit. */
  kill(signal: NodeJS.Signals): Promise<void>;
  /** Starts it again with the same environment and waits until it is ready. */
  restart(): Promise<void>;
  waitReady(timeoutMs?: number): Promise<void>;
}

/**
 * Runs a built service (dist/services/<name>/src/main.js, or under SLUICE_DIST_DIR) as its own process,
 * as the supervisor or Kubernetes would, with its log under .run/logs/tests/.
 */
export function startService(name: string, env: Record<string, string>, port: number): ServiceProcess {
  const entry = join(DIST, 'services', name, 'src/main.js');
  if (!existsSync(entry)) throw new Error(`${entry} is missing: run \`make build\` (make test builds first)`);
  const logDir = join(ROOT, '.run/logs/tests');
  mkdirSync(logDir, { recursive: true });
  let child: ChildProcess | undefined;
  const url = `http://127.0.0.1:${port}`;

  const launch = () => {
    const log = createWriteStream(join(logDir, `${name}-${port}.log`), { flags: 'a' });
    // SLUICE_SERVICE_NODE_ARGS passes node flags to the services a test or bench starts (e.g. --cpu-prof).
    const nodeArgs = (process.env.SLUICE_SERVICE_NODE_ARGS ?? '').split(' ').filter(Boolean);
    const c = spawn(process.execPath, ['--enable-source-maps', ...nodeArgs, entry], {
      cwd: ROOT,
      // The admin's Kafka connection unless the test gives the service another principal's. A
      // service the tests or a bench start here is local development unless they say otherwise.
      env: {
        SLUICE_ENV: 'development',
        SCHEMA_REGISTRY_URL: testEnv.registryUrl,
        ...process.env,
        ...testEnv.kafkaEnv,
        ...commandSigningEnv(name),
        ...env,
        PORT: String(port),
        HOST: '127.0.0.1',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    c.stdout.pipe(log);
    c.stderr.pipe(log);
    child = c;
  };

  const service: ServiceProcess = {
    name,
    port,
    url,
    async kill(signal) {
      const c = child;
      if (!c || c.exitCode !== null || c.signalCode !== null) return;
      const exited = new Promise<void>((r) => c.once('exit', () => r()));
      c.kill(signal);
      await exited;
    },
    async restart() {
      await service.kill('SIGTERM');
      launch();
      await service.waitReady();
    },
    async waitReady(timeoutMs = 60_000) {
      await waitFor(
        `${name} to be ready on ${url} (log: .run/logs/tests/${name}-${port}.log)`,
        async () => {
          if (child?.exitCode != null) throw new Error(`${name} exited with code ${child.exitCode}`);
          const res = await fetch(`${url}/health/ready`).catch(() => undefined);
          return res?.ok === true;
        },
        { timeoutMs, intervalMs: 200 },
      );
    },
  };
  launch();
  return service;
}
