import { randomBytes } from 'node:crypto';
import { createKafka, ensureTopics, routeTopic } from '@sluice/messaging';
import { createLogger } from '@sluice/observability';
import {
  createTestDatabase,
  freePort,
  startService,
  testEnv,
  testIssuer,
  uniqueName,
  waitFor,
  type ServiceProcess,
  type TestDatabase,
  startZipkin,
  type TestZipkin,
  type ZipkinSpan,
} from '@sluice/testing';

/**
 * One deposit followed through every hop in Zipkin, as `make up` runs it: Zipkin from
 * deploy/local/zipkin.sh on a free port with its own run directory, the built services as their
 * own processes exporting every span to it. A client's traceparent on the deposit must come back
 * as the trace of the command API's answer, and the trace must hold the command API's request and
 * commit, the relay's publish, the projector's apply and the query API's visible span.
 */
const logger = createLogger('e2e', 'warn');

let db: TestDatabase;
let zipkinUrl: string;
let zipkin: TestZipkin | undefined;
const services: Record<string, ServiceProcess> = {};
let AUTH: Record<string, string>;

beforeAll(async () => {
  zipkin = await startZipkin();
  zipkinUrl = zipkin.url;

  AUTH = await testIssuer().bearer('tracing-user');
  db = await createTestDatabase('tracing');
  const pattern = `${uniqueName('tracing')}.\${routedByValue}`;
  const kafka = createKafka({ ...testEnv.kafka, clientId: 'tracing-e2e', logger });
  await ensureTopics(kafka, [{ topic: routeTopic(pattern, 'wallet'), partitions: 3, retainForever: true }]);
  const env = {
    ...testIssuer().env(),
    DATABASE_URL: db.url,
    ...testEnv.kafkaEnv,
    SCHEMA_REGISTRY_URL: testEnv.registryUrl,
    OUTBOX_TOPIC_PATTERN: pattern,
    OUTBOX_SLOT_NAME: uniqueName('slot').toLowerCase(),
    OUTBOX_PUBLICATION_NAME: uniqueName('pub').toLowerCase(),
    PROJECTOR_GROUP_ID: uniqueName('projector'),
    WALLET_COMMANDS_ENABLED: 'false',
    LOG_LEVEL: 'info',
    EVENT_LOOP_MAX_DELAY_MS: '0',
    TRACING_EXPORTER: 'zipkin',
    TRACING_ENDPOINT: `${zipkinUrl}/api/v2/spans`,
    TRACING_SAMPLE_RATIO: '1',
  };
  services.command = startService('command-api', env, await freePort());
  await services.command.waitReady();
  services.relay = startService('outbox-relay', env, await freePort());
  services.projector = startService('projector', env, await freePort());
  services.query = startService('query-api', env, await freePort());
  await Promise.all([services.relay.waitReady(), services.projector.waitReady(), services.query.waitReady()]);
});

afterAll(async () => {
  await Promise.all(Object.values(services).map((s) => s.kill('SIGTERM')));
  await db?.drop();
  await zipkin?.stop();
});

async function post(path: string, body: unknown, headers: Record<string, string>): Promise<Response> {
  return fetch(`${services.command!.url}${path}`, {
    method: 'POST',
    headers: { ...AUTH, 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
}

/** The trace's spans once every service named has reported at least one span named as given. */
async function traceWith(traceId: string, expected: Record<string, RegExp>): Promise<ZipkinSpan[]> {
  return waitFor(
    `trace ${traceId} in Zipkin with spans of ${Object.keys(expected).join(', ')}`,
    async () => {
      const res = await fetch(`${zipkinUrl}/api/v2/trace/${traceId}`);
      if (res.status !== 200) return undefined;
      const spans = (await res.json()) as ZipkinSpan[];
      const complete = Object.entries(expected).every(([service, name]) =>
        spans.some((s) => s.localEndpoint?.serviceName === service && name.test(s.name)),
      );
      return complete ? spans : undefined;
    },
    // Each process exports its spans in batches every few seconds.
    { timeoutMs: 60_000, intervalMs: 500 },
  );
}

describe('tracing through every hop', () => {
  it('a deposit sent with a traceparent is one trace across the command API, relay, projector and query API', async () => {
    const opened = await post('/v1/wallets', { currency: 'EUR' }, { 'idempotency-key': uniqueName('open') });
    expect(opened.status).toBe(201);
    const walletId = String(((await opened.json()) as Record<string, unknown>).walletId);

    const traceId = randomBytes(16).toString('hex');
    const callerSpan = randomBytes(8).toString('hex');
    const res = await post(
      `/v1/wallets/${walletId}/deposits`,
      { amount: 500, currency: 'EUR' },
      { 'idempotency-key': uniqueName('dep'), traceparent: `00-${traceId}-${callerSpan}-01`, 'x-request-id': 'tracing-e2e-1' },
    );
    expect(res.status).toBe(201);
    expect(res.headers.get('x-trace-id')).toBe(traceId);
    expect(res.headers.get('x-request-id')).toBe('tracing-e2e-1');

    const spans = await traceWith(traceId, {
      'command-api': /^post \/v1\/wallets\/:walletid\/deposits$/i,
      'outbox-relay': /^publish /,
      projector: /^apply /,
      'query-api': /^visible wallet$/i,
    });
    const byId = new Map(spans.map((s) => [s.id, s]));
    const request = spans.find((s) => s.localEndpoint?.serviceName === 'command-api' && s.kind === 'SERVER')!;
    const commit = spans.find((s) => s.name === 'wallet.commit')!;
    // The command API continues the caller's trace; the event's hops descend from the command's commit.
    expect(request.parentId).toBe(callerSpan);
    expect(commit.parentId).toBe(request.id);
    for (const service of ['outbox-relay', 'projector', 'query-api']) {
      const hop = spans.find((s) => s.localEndpoint?.serviceName === service)!;
      expect({ service, parent: byId.get(hop.parentId ?? '')?.name }).toEqual({ service, parent: 'wallet.commit' });
    }
  });

  it('the freshness histograms of each hop carry the deposit trace as an exemplar', async () => {
    const opened = await post('/v1/wallets', { currency: 'EUR' }, { 'idempotency-key': uniqueName('open') });
    const walletId = String(((await opened.json()) as Record<string, unknown>).walletId);
    const traceId = randomBytes(16).toString('hex');
    const res = await post(
      `/v1/wallets/${walletId}/deposits`,
      { amount: 7, currency: 'EUR' },
      { 'idempotency-key': uniqueName('dep'), traceparent: `00-${traceId}-${randomBytes(8).toString('hex')}-01` },
    );
    expect(res.status).toBe(201);
    // The deposit is the newest observation of each hop, so the bucket it fell in names its trace.
    const hops: [ServiceProcess, string][] = [
      [services.relay!, 'commit_to_published'],
      [services.projector!, 'commit_to_applied'],
      [services.projector!, 'published_to_applied'],
      [services.query!, 'applied_to_visible'],
      [services.query!, 'commit_to_visible'],
    ];
    for (const [service, hop] of hops) {
      const line = await waitFor(
        `${hop} exemplar in ${service.name}'s metrics`,
        async () => {
          const text = await (await fetch(`${service.url}/metrics`)).text();
          return text.split('\n').find((l) => l.includes(`hop="${hop}"`) && l.includes(`trace_id="${traceId}"`));
        },
        { timeoutMs: 30_000, intervalMs: 250 },
      );
      expect(line).toMatch(/^sluice_freshness_seconds_bucket\{/);
    }
  });
});
