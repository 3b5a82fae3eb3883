import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort, repoRoot, waitFor } from '@sluice/testing';

/**
 * Zipkin as `make up` runs it (deploy/local/zipkin.sh: the exec jar from Maven Central on Java 17,
 * in-memory storage), on a free port with its own run directory: it takes spans in Zipkin's v2
 * JSON, as the services' exporter sends them, and finds them by trace id.
 */
const ROOT = repoRoot();
const SCRIPT = join(ROOT, 'deploy/local/zipkin.sh');
const run = promisify(execFile);

let url: string;
let scriptEnv: NodeJS.ProcessEnv;
let runDir: string;
const script = (command: string) => run(SCRIPT, [command], { env: scriptEnv, encoding: 'utf8' });

beforeAll(async () => {
  const port = await freePort();
  url = `http://127.0.0.1:${port}`;
  runDir = join(ROOT, '.run/tests', `zipkin-${port}`);
  // The jar is shared with make up's (.run/zipkin); the pid file and log are this run's.
  scriptEnv = {
    ...process.env,
    SLUICE_RUN_DIR: runDir,
    ZIPKIN_LISTEN: `127.0.0.1:${port}`,
    ZIPKIN_JAR_DIR: join(ROOT, '.run/zipkin'),
  };
  await script('start');
});

afterAll(async () => {
  if (scriptEnv) await script('stop');
  if (runDir) rmSync(runDir, { recursive: true, force: true });
});

describe('deploy/local/zipkin.sh', () => {
  it('runs Zipkin on the address given, which stores a span and finds it by its trace id', async () => {
    const traceId = randomBytes(16).toString('hex');
    const span = {
      traceId,
      id: randomBytes(8).toString('hex'),
      name: 'post /v1/wallets/:walletid/deposits',
      kind: 'SERVER',
      timestamp: Date.now() * 1000,
      duration: 1500,
      localEndpoint: { serviceName: 'command-api' },
    };
    const posted = await fetch(`${url}/api/v2/spans`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify([span]),
    });
    expect(posted.status).toBe(202);
    const stored = await waitFor(
      'the span in Zipkin',
      async () => {
        const res = await fetch(`${url}/api/v2/trace/${traceId}`);
        return res.status === 200
          ? ((await res.json()) as { name: string; localEndpoint: { serviceName: string } }[])
          : undefined;
      },
      { timeoutMs: 10_000, intervalMs: 200 },
    );
    expect(stored.map((s) => [s.localEndpoint.serviceName, s.name])).toEqual([['command-api', span.name]]);
    expect(((await (await fetch(`${url}/api/v2/services`)).json()) as string[]).includes('command-api')).toBe(true);
  });

  it('reports itself running, and start again leaves the running one be', async () => {
    const { stderr } = await script('status');
    expect(stderr).toContain(`running on ${url}/zipkin/`);
    expect((await script('start')).stderr).toContain('already running');
  });
});
