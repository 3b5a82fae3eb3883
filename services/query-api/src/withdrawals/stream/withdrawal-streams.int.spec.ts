import type { AddressInfo } from 'node:net';
import WebSocket from 'ws';
import { loadConfig } from '@sluice/config';
import { uuidv7 } from '@sluice/core';
import { routeTopic } from '@sluice/messaging';
import { createLogger, createMetricsRegistry, type Registry } from '@sluice/observability';
import type { WithdrawalView } from '@sluice/projection-withdrawals';
import { createTestDatabase, testIssuer, uniqueName, waitFor, type TestDatabase } from '@sluice/testing';
import { buildQueryApi, type QueryApi } from '../../app';
import { queryApiConfig } from '../../config';
import { ReadModelFixture, withdrawalView } from '../../test-support/read-model-fixture';

let db: TestDatabase;
let api: QueryApi;
let registry: Registry;
let baseUrl: string;
let fixture: ReadModelFixture;
const WALLET = uuidv7();
const T = (s: number) => new Date(Date.parse('2026-11-27T10:00:00.000Z') + s * 1_000);

/** Support's token (wallets:read:any): these streams are not about who may follow; stream-auth.int.spec is. */
let AUTH: Record<string, string>;

beforeAll(async () => {
  AUTH = await testIssuer().bearer('support', 'wallets:read:any');
  db = await createTestDatabase('streams');
  registry = createMetricsRegistry('streams-test', false);
  const pattern = `${uniqueName('st')}.\${routedByValue}`;
  api = await buildQueryApi(
    loadConfig(queryApiConfig, {
      SLUICE_ENV: 'development',
      ...testIssuer().env(),
      DATABASE_URL: db.url,
      OUTBOX_TOPIC_PATTERN: pattern,
      QUERY_STREAM_QUEUE: '4',
      QUERY_STREAM_RATE_PER_SEC: '50',
      QUERY_STREAM_BURST: '5',
      QUERY_STREAM_NOT_FOUND_MS: '500',
    }),
    createLogger('streams-test', 'silent'),
    registry,
  );
  await api.app.listen(0, '127.0.0.1');
  baseUrl = `http://127.0.0.1:${(api.app.getHttpServer().address() as AddressInfo).port}`;
  fixture = new ReadModelFixture(api.pool, routeTopic(pattern, 'wallet'));
  await fixture.install();
});

afterAll(async () => {
  await api?.close();
  await db?.drop();
});

const view = (id: string, over: Partial<WithdrawalView> = {}): WithdrawalView =>
  withdrawalView({ withdrawalId: id, walletId: WALLET, requestedAt: T(3), lastEventId: uuidv7() }, over);
const put = (v: WithdrawalView) => fixture.putWithdrawal(v);

interface SseEvent {
  id?: string;
  event?: string;
  data?: string;
}

/** Reads a server-sent event stream to its end. */
async function readSse(url: string, headers: Record<string, string> = {}, onEvent?: (e: SseEvent) => void): Promise<SseEvent[]> {
  const res = await fetch(url, { headers: { ...AUTH, ...headers }, signal: AbortSignal.timeout(20_000) });
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
  const events: SseEvent[] = [];
  let buffer = '';
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    buffer += Buffer.from(chunk).toString('utf8');
    for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const e: SseEvent = {};
      for (const line of block.split('\n')) {
        const m = /^(id|event|data): (.*)$/.exec(line);
        if (m) e[m[1] as keyof SseEvent] = m[2];
      }
      if (e.event) {
        events.push(e);
        onEvent?.(e);
      }
    }
  }
  return events;
}

describe('withdrawal status push', () => {
  it('SSE: each state as an event whose id is the version, the stream ending after the final state', async () => {
    const id = uuidv7();
    await put(view(id));
    const reading = readSse(`${baseUrl}/v1/withdrawals/${id}/events`, {}, (e) => {
      if (e.id === '3') void put(view(id, { state: 'failed', version: 4, failureReason: 'declined', failureDetail: 'no' }));
      if (e.id === '4') void put(view(id, { state: 'compensated', version: 5, failureReason: 'declined', failureDetail: 'no' }));
    });
    const events = await reading;
    expect(events.map((e) => [e.event, e.id, (JSON.parse(e.data!) as { state: string }).state])).toEqual([
      ['status', '3', 'processing'],
      ['status', '4', 'failed'],
      ['status', '5', 'compensated'],
    ]);
    expect(JSON.parse(events[2]!.data!)).toMatchObject({
      withdrawalId: id,
      walletId: WALLET,
      amount: 300,
      failure: { reason: 'declined' },
    });
  });

  it('SSE: a reconnect with Last-Event-ID gets only what is newer', async () => {
    const id = uuidv7();
    await put(view(id, { state: 'completed', version: 4, providerReference: 'po_1' }));
    expect((await readSse(`${baseUrl}/v1/withdrawals/${id}/events`, { 'last-event-id': '4' })).map((e) => e.id)).toEqual([]);
    expect((await readSse(`${baseUrl}/v1/withdrawals/${id}/events?lastEventId=3`)).map((e) => e.id)).toEqual(['4']);
  });

  it('SSE: a withdrawal the read model does not know ends with an error event; a malformed id is a 400', async () => {
    const events = await readSse(`${baseUrl}/v1/withdrawals/${uuidv7()}/events`);
    expect(events).toEqual([expect.objectContaining({ event: 'error', data: expect.stringContaining('withdrawal_not_found') })]);
    expect((await fetch(`${baseUrl}/v1/withdrawals/nope/events`, { headers: AUTH })).status).toBe(400);
  });

  it('WebSocket: subscribes to several withdrawals, resumes one from its lastEventId, and gets every final state', async () => {
    const [a, b] = [uuidv7(), uuidv7()];
    await put(view(a));
    await put(view(b, { state: 'completed', version: 4 }));
    const ws = new WebSocket(`${baseUrl.replace('http', 'ws')}/v1/withdrawals/stream`, { headers: AUTH });
    const received: { type: string; eventId?: string; withdrawal?: { withdrawalId: string; state: string } }[] = [];
    ws.on('message', (m: Buffer) => received.push(JSON.parse(m.toString('utf8')) as (typeof received)[number]));
    await new Promise((resolve) => ws.once('open', resolve));
    ws.send(JSON.stringify({ type: 'subscribe', withdrawalId: a }));
    ws.send(JSON.stringify({ type: 'subscribe', withdrawalId: b, lastEventId: '3' }));
    ws.send('not json');
    await waitFor('the first states', () => received.filter((r) => r.type === 'status').length === 2);
    await put(view(a, { state: 'completed', version: 4, providerReference: 'po_a' }));
    await waitFor('a completed', () =>
      received.some((r) => r.withdrawal?.withdrawalId === a && r.withdrawal.state === 'completed'),
    );
    const statuses = received
      .filter((r) => r.type === 'status')
      .map((r) => `${r.withdrawal!.withdrawalId === a ? 'a' : 'b'}:${r.eventId}:${r.withdrawal!.state}`);
    expect(statuses.sort()).toEqual(['a:3:processing', 'a:4:completed', 'b:4:completed']);
    expect(received).toContainEqual(expect.objectContaining({ type: 'error', code: 'malformed_json' }));
    ws.close();
    await waitFor('the connection gauge to drop', async () =>
      /sluice_stream_connections\{transport="websocket"[^}]*\} 0/.test(
        await registry.getSingleMetricAsString('sluice_stream_connections'),
      ),
    );
    expect(await registry.getSingleMetricAsString('sluice_stream_messages_total')).toMatch(
      /transport="websocket",priority="final"[^}]*\} 2/,
    );
  });
});
