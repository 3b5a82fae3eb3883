import { writeShare, type CpuProfile } from './profile-writes';

describe('writeShare', () => {
  it('counts every sample but idle as busy, and the native socket writes among them, each sample lasting until the next', () => {
    const profile: CpuProfile = {
      nodes: [
        { id: 1, callFrame: { functionName: '(root)' } },
        { id: 2, callFrame: { functionName: '(idle)' } },
        { id: 3, callFrame: { functionName: 'writev' } },
        { id: 4, callFrame: { functionName: 'runCommandTransaction' } },
        { id: 5, callFrame: { functionName: 'writeUtf8String' } },
      ],
      samples: [2, 3, 4, 5, 2, 3],
      // The first delta is the time before the first sample; the last sample has no end and counts nothing.
      timeDeltas: [0, 1_000, 2_000, 3_000, 4_000, 5_000],
    };
    // idle 1 ms (not busy); writev 2 ms; the transaction 3 ms; writeUtf8String 4 ms; idle 5 ms; writev 0.
    expect(writeShare(profile)).toEqual({ busyMs: 9, writeMs: 6 });
  });
});
