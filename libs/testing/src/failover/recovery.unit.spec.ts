import type { ProgressTimeline } from './progress-probe';
import { inKafkaAt, recoveryTimes, type RecoveryInput } from './recovery';

const KILL = 10_000;

function timeline(partial: Partial<ProgressTimeline> = {}): ProgressTimeline {
  return { highWatermarks: [], applied: new Map(), sagas: new Map(), ...partial };
}

function input(partial: Partial<RecoveryInput>): RecoveryInput {
  return { killAt: KILL, movedPartitions: [1], events: [], operations: [], timeline: timeline(), ...partial };
}

describe('inKafkaAt', () => {
  it('is the first sample whose high watermark of that partition is past the offset', () => {
    const samples = [
      { at: 100, partition: 0, high: 5 },
      { at: 200, partition: 1, high: 9 },
      { at: 300, partition: 0, high: 6 },
    ];
    expect(inKafkaAt(samples, 0, 5)).toBe(300);
    expect(inKafkaAt(samples, 0, 4)).toBe(100);
    expect(inKafkaAt(samples, 0, 6)).toBeUndefined();
  });
});

describe('recoveryTimes', () => {
  it('the relay recovers when the first event committed after the kill is in Kafka; earlier events do not count', () => {
    const times = recoveryTimes(
      input({
        events: [
          { id: 'before', partition: 0, offset: 3, committedAt: KILL - 50 },
          { id: 'after', partition: 0, offset: 4, committedAt: KILL + 100 },
        ],
        timeline: timeline({
          highWatermarks: [
            { at: KILL + 20, partition: 0, high: 4 },
            { at: KILL + 6_000, partition: 0, high: 5 },
          ],
        }),
      }),
    );
    expect(times.relayMs).toBe(6_000);
  });

  it('a consumer recovers when work sent after the kill, on a partition whose leader died, is applied', () => {
    const op = (id: string, partition: number, sentAt: number, kind: 'deposit' | 'withdrawal' = 'deposit') => ({
      kind,
      walletId: `w${partition}`,
      id,
      amount: 1,
      version: kind === 'deposit' ? Number(id.slice(1)) : undefined,
      sentAt,
      partition,
    });
    const times = recoveryTimes(
      input({
        operations: [
          op('d1', 1, KILL - 10), // in flight at the kill: not recovery
          op('d2', 0, KILL + 10), // a partition whose leader lived: not recovery
          op('d3', 1, KILL + 10),
          op('x1', 1, KILL + 20, 'withdrawal'),
        ],
        timeline: timeline({
          applied: new Map([
            ['w1:1', KILL + 5],
            ['w0:2', KILL + 30],
            ['w1:3', KILL + 7_000],
          ]),
          sagas: new Map([['x1', KILL + 8_000]]),
        }),
      }),
    );
    expect(times.projectorMs).toBe(7_000);
    expect(times.paymentsMs).toBe(8_000);
    expect(times.visibleGapMs).toBe(6_990);
    expect(times.visibleP50Ms).toBe(20);
  });

  it('says nothing recovered when nothing happened after the kill', () => {
    const times = recoveryTimes(input({}));
    expect(times).toMatchObject({ relayMs: undefined, projectorMs: undefined, paymentsMs: undefined });
  });
});
