import { execFile } from 'node:child_process';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort, repoRoot, startService, waitFor, type ServiceProcess } from '@sluice/testing';
import { DASHBOARDS } from '../grafana/dashboards';
import { queriesOf } from '../grafana/model';

/**
 * Prometheus as `make up` runs it (deploy/local/prometheus.sh start: Debian's
 * binary as our own process, the rendered configuration, deploy/prometheus's
 * rules), on a free port with its own run directory, pointed at a real PSP
 * simulator process.
 */
const ROOT = repoRoot();
const SCRIPT = join(ROOT, 'deploy/local/prometheus.sh');
const RULES_DIR = join(ROOT, 'deploy/prometheus/rules');
const run = promisify(execFile);

let psp: ServiceProcess;
let url: string;
let runDir: string;
let scriptEnv: NodeJS.ProcessEnv;

const script = (command: string) => run(SCRIPT, [command], { env: scriptEnv, encoding: 'utf8' });

async function api<T>(path: string): Promise<T> {
  const res = await fetch(`${url}${path}`);
  if (!res.ok) throw new Error(`GET ${path}: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { data: T }).data;
}

interface Sample {
  metric: Record<string, string>;
  value: [number, string];
}

/** The value of up{job} once Prometheus has scraped that job at least once. */
const upOf = (job: string) =>
  waitFor(
    `Prometheus to have scraped job ${job}`,
    async () => (await api<{ result: Sample[] }>(`/api/v1/query?query=${encodeURIComponent(`up{job="${job}"}`)}`)).result[0],
    { timeoutMs: 20_000, intervalMs: 250 },
  );

beforeAll(async () => {
  psp = startService('psp-simulator', { PSP_WEBHOOK_URL: '', LOG_LEVEL: 'warn' }, await freePort());
  const port = await freePort();
  url = `http://127.0.0.1:${port}`;
  runDir = join(ROOT, '.run/tests', `prometheus-${port}`);
  scriptEnv = {
    ...process.env,
    SLUICE_RUN_DIR: runDir,
    PROMETHEUS_LISTEN: `127.0.0.1:${port}`,
    PROMETHEUS_TARGETS: `psp-simulator=127.0.0.1:${psp.port}`,
    PROMETHEUS_REGISTRY: '',
    PROMETHEUS_EDGE: '',
  };
  await psp.waitReady();
  await script('start');
}, 60_000);

afterAll(async () => {
  await script('stop');
  await psp?.kill('SIGTERM');
  rmSync(runDir, { recursive: true, force: true });
});

describe('Prometheus started by deploy/local/prometheus.sh', () => {
  it("scrapes the service's /metrics without a token: up is 1, job its service name, instance host:port", async () => {
    const sample = await upOf('psp-simulator');
    expect(sample.metric).toMatchObject({ job: 'psp-simulator', instance: `127.0.0.1:${psp.port}` });
    expect(sample.value[1]).toBe('1');
  });

  it('scrapes itself as job prometheus', async () => {
    expect((await upOf('prometheus')).value[1]).toBe('1');
  });

  it('loads every alert of deploy/prometheus/rules', async () => {
    const inFiles = readdirSync(RULES_DIR)
      .filter((f) => f.endsWith('.yml'))
      .flatMap((f) => [...readFileSync(join(RULES_DIR, f), 'utf8').matchAll(/^\s*- alert: (\S+)/gm)].map((m) => m[1]!));
    const { groups } = await api<{ groups: { name: string; rules: { name: string }[] }[] }>('/api/v1/rules?type=alert');
    const loaded = groups.flatMap((g) => g.rules.map((r) => r.name));
    expect(inFiles.length).toBeGreaterThan(10);
    expect(new Set(loaded)).toEqual(new Set(inFiles));
  });

  it('runs every query of the Grafana dashboards (deploy/grafana) without an error', async () => {
    const queries = DASHBOARDS.flatMap(queriesOf).map((q) => q.replaceAll('$__rate_interval', '1m'));
    expect(queries.length).toBeGreaterThan(100);
    const failures: string[] = [];
    for (const query of queries) {
      await api(`/api/v1/query?query=${encodeURIComponent(query)}`).catch((err: Error) => failures.push(err.message));
    }
    expect(failures).toEqual([]);
  });

  it('reports itself running with its targets up (prometheus.sh status)', async () => {
    const stderr = await waitFor(
      'both targets to have been scraped',
      async () => {
        const { stderr } = await script('status');
        return stderr.includes('2 of 2 targets up') && stderr;
      },
      { timeoutMs: 20_000, intervalMs: 500 },
    );
    expect(stderr).toContain(`running on ${url}`);
  });
});
