import Fastify from 'fastify';
import { Registry } from 'prom-client';
import { installEventLoopGuard } from './event-loop-guard';

function blockEventLoop(ms: number): void {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    // a synchronous stretch of work: the event loop is late for everything else meanwhile
  }
}

describe('event-loop guard', () => {
  it('given a saturated event loop, refuses new requests with 503 problem+json and Retry-After, but not health checks; passes again once it recovers', async () => {
    const registry = new Registry();
    const app = Fastify();
    await installEventLoopGuard(
      app,
      { maxEventLoopDelayMs: 100, maxEventLoopUtilization: 0, sampleIntervalMs: 50, retryAfterSec: 1 },
      registry,
      new Set(['/health/live']),
    );
    app.get('/work', async () => ({ ok: true }));
    app.get('/health/live', async () => ({ status: 'up' }));
    await app.ready();
    try {
      expect((await app.inject({ method: 'GET', url: '/work' })).statusCode).toBe(200);
      // Several samples late by far more than the limit (a loaded machine adds tens of ms, not hundreds).
      for (let i = 0; i < 4; i++) {
        blockEventLoop(400);
        await new Promise((r) => setTimeout(r, 5));
      }
      const refused = await app.inject({ method: 'GET', url: '/work' });
      expect(refused.statusCode).toBe(503);
      expect(refused.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(refused.headers['retry-after']).toBe('1');
      expect(refused.json()).toMatchObject({ code: 'overloaded', status: 503 });
      expect((await app.inject({ method: 'GET', url: '/health/live' })).statusCode).toBe(200);
      expect(await registry.getSingleMetricAsString('sluice_backpressure_drops_total')).toMatch(
        /stage="process",reason="event_loop_delay"\} [1-9]/,
      );

      // Recovery: once the loop keeps time again, requests pass (polled: a busy machine's timers are late too).
      let status = 0;
      for (let waited = 0; waited < 5_000 && status !== 200; waited += 100) {
        await new Promise((r) => setTimeout(r, 100));
        status = (await app.inject({ method: 'GET', url: '/work' })).statusCode;
      }
      expect(status).toBe(200);
    } finally {
      await app.close();
    }
  });
});
