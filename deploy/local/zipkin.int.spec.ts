import { randomBytes } from 'node:crypto';
import { waitFor, startZipkin, type TestZipkin } from '@sluice/testing';

/**
 * Zipkin as `make up` runs it (deploy/local/zipkin.sh: the exec jar from Maven Central on Java 17,
 * in-memory storage), on a free port with its own run directory: it takes spans in Zipkin's v2
 * JSON, as the services' exporter sends them, and finds them by trace id.
 */

let url: string;
let zipkin: TestZipkin | undefined;
const script = (command: string) => zipkin!.script(command);

beforeAll(async () => {
  zipkin = await startZipkin();
  url = zipkin.url;
});

afterAll(async () => {
  await zipkin?.stop();
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
