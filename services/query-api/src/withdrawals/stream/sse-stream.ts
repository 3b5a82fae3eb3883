import type { FastifyReply, FastifyRequest } from 'fastify';
import { requireReadScope, type AuthError } from '@sluice/auth';
import { UUID_PATTERN } from '@sluice/core';
import { authProblem } from '@sluice/http';
import type { WithdrawalRecord } from '@sluice/projection-withdrawals';
import { toResponse } from '../get-withdrawal.http';
import { FINAL, type StreamHub } from './stream-hub';

/**
 * Server-sent events: GET /v1/withdrawals/{id}/events. Each state is an
 * event `status` whose id is the withdrawal's version; a reconnect with
 * Last-Event-ID (or ?lastEventId=) gets only what is newer. The stream ends
 * after the final state. The route passes the front door, so the request
 * carries its principal; refusals are problem+json answers.
 */
export async function serveSse(hub: StreamHub, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  const principal = request.principal;
  if (!principal) throw new Error('the front door let a stream through without a principal');
  if (!hub.originAllowed(request.headers.origin)) {
    hub.refused('sse', 'origin');
    void reply
      .code(403)
      .type('application/problem+json')
      .send(problem(403, 'origin_not_allowed', 'this Origin may not open streams'));
    return;
  }
  try {
    requireReadScope(principal);
  } catch (err) {
    const p = authProblem(err as AuthError, hub.auth.realm);
    void reply.code(p.status).headers(p.headers).type('application/problem+json').send(JSON.stringify(p.toProblem()));
    return;
  }
  const { withdrawalId: raw } = request.params as { withdrawalId?: string };
  if (!raw || !UUID_PATTERN.test(raw)) {
    void reply
      .code(400)
      .type('application/problem+json')
      .send(problem(400, 'validation_failed', 'path.withdrawalId: must be a UUID'));
    return;
  }
  if (hub.full) {
    hub.refused('sse', 'capacity');
    void reply
      .code(503)
      .header('retry-after', '1')
      .type('application/problem+json')
      .send(problem(503, 'overloaded', 'too many streams'));
    return;
  }
  const withdrawalId = raw.toLowerCase();
  // Known now and not the caller's: 404, as for a withdrawal that does not exist. Not known yet:
  // the stream waits for it and checks its owner when it appears (follow).
  const now = await hub.reader.read(withdrawalId, undefined, 0);
  if (now.value && !(await hub.mayRead(principal, now.value))) {
    void reply
      .code(404)
      .type('application/problem+json')
      .send(problem(404, 'withdrawal_not_found', `no withdrawal ${withdrawalId} in the read model`));
    return;
  }
  if (!hub.admitPrincipal(principal)) {
    hub.refused('sse', 'principal_limit');
    void reply
      .code(429)
      .header('retry-after', '1')
      .type('application/problem+json')
      .send(problem(429, 'too_many_streams', `at most ${hub.options.maxConnectionsPerPrincipal} streams per principal`));
    return;
  }
  const query = request.query as { lastEventId?: string };
  const lastEventId = Number(request.headers['last-event-id'] ?? query.lastEventId ?? 0) || 0;
  reply.hijack();
  const res = reply.raw;
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache, no-transform',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
  });
  res.write(`retry: 2000\n\n`);
  const abort = hub.track('sse', principal);
  let ending = false;
  const end = () => {
    if (ending) return;
    ending = true;
    abort.abort();
    res.end();
  };
  const queue = hub.queueFor('sse', {
    write: (m) => res.write(m.payload),
    onSlowConsumer: end,
  });
  res.on('drain', () => queue.resume());
  res.on('close', () => {
    queue.close();
    abort.abort();
  });
  hub.heartbeat(abort.signal, queue, () => res.write(': keep-alive\n\n'));
  void hub
    .follow(principal, withdrawalId, lastEventId, abort.signal, (w) => {
      queue.push({
        key: w.withdrawalId,
        final: FINAL.has(w.state),
        payload: `id: ${w.version}\nevent: status\ndata: ${body(w)}\n\n`,
      });
    })
    .then(async (found) => {
      if (!found) res.write(`event: error\ndata: ${JSON.stringify({ code: 'withdrawal_not_found', withdrawalId })}\n\n`);
      // After the final state (or the give-up) the stream is over, once what is queued went out.
      while (!queue.idle && !abort.signal.aborted) await new Promise((r) => setTimeout(r, 50));
      end();
    });
}

function body(w: WithdrawalRecord): string {
  return JSON.stringify(toResponse(w));
}

function problem(status: number, code: string, detail: string): string {
  return JSON.stringify({
    type: `https://sluice.dev/problems/${code.replace(/_/g, '-')}`,
    title: code.replace(/_/g, ' '),
    status,
    code,
    detail,
  });
}
