import { clusters, summary, type Hold } from './correlate';

describe('clusters of slow requests', () => {
  const samples = [
    { at: 1_000, latencyMs: 30 },
    { at: 1_100, latencyMs: 40 },
    { at: 1_150, latencyMs: 5 },
    { at: 1_250, latencyMs: 28 },
    { at: 2_000, latencyMs: 3 },
    { at: 5_000, latencyMs: 26 },
  ];
  const holds: Hold[] = [
    { kind: 'gc', at: 930, ms: 4, type: 'minor' },
    { kind: 'stall', at: 990, ms: 14, cpuMs: 12 },
    { kind: 'stall', at: 1_290, ms: 9, cpuMs: 1 },
    { kind: 'stall', at: 3_000, ms: 20, cpuMs: 20 },
  ];

  it('groups slow requests with no gap over 200 ms and keeps the holds from 80 ms before to 30 ms after', () => {
    const found = clusters(samples, holds, 25);
    expect(found.map(({ from, to, requests, maxLatencyMs }) => ({ from, to, requests, maxLatencyMs }))).toEqual([
      { from: 1_000, to: 1_250, requests: 3, maxLatencyMs: 40 },
      { from: 5_000, to: 5_000, requests: 1, maxLatencyMs: 26 },
    ]);
    // 930 is 70 ms before the first, 1,290 is 40 ms after the last: the first kept, the second not.
    expect(found[0]!.holds.map((h) => h.at)).toEqual([930, 990]);
    expect(found[1]!.holds).toEqual([]);
  });

  it('sums what the clusters met: slow requests with a stall, stalled time and how much of it was busy', () => {
    expect(summary(clusters(samples, holds, 25))).toEqual({
      clusters: 2,
      slowRequests: 4,
      inClustersWithStall: 3,
      stalledMs: 14,
      stalledBusyMs: 12,
      gcMs: 4,
    });
  });
});
