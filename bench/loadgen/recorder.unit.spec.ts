import { problemCode, Recorder, summarizeLatencies } from './recorder';

describe('load generator recorder', () => {
  it('summarizes latencies by nearest rank', () => {
    const s = summarizeLatencies(Array.from({ length: 100 }, (_, i) => i + 1));
    expect(s).toMatchObject({ n: 100, p50: 50, p90: 90, p99: 99, max: 100 });
  });

  it('reads the problem code of error responses only', () => {
    expect(problemCode(503, '{"type":"x","code":"overloaded","status":503}')).toBe('overloaded');
    expect(problemCode(201, '{"code":"not_an_error"}')).toBeUndefined();
  });

  it('buckets samples per second of intended send time, with 2xx percentiles and refusals apart', () => {
    const rec = new Recorder();
    rec.add({ intendedAt: 100, latencyMs: 10, status: 201, hasRetryAfter: false, phase: 'a' });
    rec.add({ intendedAt: 900, latencyMs: 30, status: 503, hasRetryAfter: true, phase: 'a', code: 'overloaded' });
    rec.add({ intendedAt: 1500, latencyMs: 20, status: 201, hasRetryAfter: false, phase: 'b' });
    expect(rec.timeline()).toEqual([
      { second: 0, sent: 2, ok: 1, refused: 1, failed: 0, okP50: 10, okP99: 10 },
      { second: 1, sent: 1, ok: 1, refused: 0, failed: 0, okP50: 20, okP99: 20 },
    ]);
    expect(rec.errorCodes()).toEqual({ '503 overloaded': 1 });
    expect(rec.statusCounts((s) => s.phase === 'a')).toEqual({ '201': 1, '503': 1 });
  });

  it('writes each request as wall-clock intended send time, latency and status', () => {
    const rec = new Recorder();
    rec.startedAtEpochMs = 1_700_000_000_000.4;
    rec.add({ intendedAt: 0.5, latencyMs: 3.456, status: 201, hasRetryAfter: false, phase: 'a' });
    rec.add({ intendedAt: 250, latencyMs: 40, status: 503, hasRetryAfter: true, phase: 'a' });
    expect(rec.toCsv()).toBe('1700000000001,3.46,201\n1700000000250,40.00,503');
  });
});
