import { execFile } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort, repoRoot } from './processes';

const run = promisify(execFile);

/** A span as Zipkin's v2 API returns it. */
export interface ZipkinSpan {
  traceId: string;
  id: string;
  parentId?: string;
  name: string;
  kind?: string;
  localEndpoint?: { serviceName?: string };
}

/** A Zipkin started by deploy/local/zipkin.sh for one suite. */
export interface TestZipkin {
  /** http://127.0.0.1:<port> */
  url: string;
  /** Where the services' exporter sends spans (TRACING_ENDPOINT). */
  spansEndpoint: string;
  /** Runs zipkin.sh with this instance's settings (start, stop, status). */
  script(command: string): Promise<{ stdout: string; stderr: string }>;
  /** Stops it and removes its run directory. */
  stop(): Promise<void>;
}

/**
 * Zipkin as `make up` runs it, on a free port with a run directory of its own (pid file and
 * log); the jar is shared with make up's (.run/zipkin).
 */
export async function startZipkin(): Promise<TestZipkin> {
  const root = repoRoot();
  const port = await freePort();
  const runDir = join(root, '.run/tests', `zipkin-${port}`);
  const env = {
    ...process.env,
    SLUICE_RUN_DIR: runDir,
    ZIPKIN_LISTEN: `127.0.0.1:${port}`,
    ZIPKIN_JAR_DIR: join(root, '.run/zipkin'),
  };
  const script = (command: string) => run(join(root, 'deploy/local/zipkin.sh'), [command], { env, encoding: 'utf8' });
  await script('start');
  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    spansEndpoint: `${url}/api/v2/spans`,
    script,
    async stop() {
      await script('stop');
      rmSync(runDir, { recursive: true, force: true });
    },
  };
}
