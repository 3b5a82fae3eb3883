import { refusal, type Snapshot } from './store';

const snapshot = (offsets: [number, bigint][], fingerprint = 'a'.repeat(64)): Snapshot => ({
  id: 7,
  projection: 'wallet',
  version: 1,
  fingerprint,
  schema: 'projsnap_wallet_7',
  topic: 'wallet.events',
  offsets: new Map(offsets),
  rowCounts: {},
  records: 0,
  bytes: 0,
  durationMs: 0,
  createdAt: new Date(0),
});
const ranges = [
  { partition: 0, low: 0n, high: 100n },
  { partition: 1, low: 0n, high: 50n },
];

describe('which snapshot a rebuild may start from', () => {
  it('given the same fold, topic and records still in the topic, accepts it', () => {
    expect(refusal(snapshot([[0, 90n]]), 'a'.repeat(64), 'wallet.events', ranges)).toBeUndefined();
  });

  it('given another fold, refuses it: the rows are the old fold’s output', () => {
    expect(refusal(snapshot([[0, 90n]]), 'b'.repeat(64), 'wallet.events', ranges)).toMatch(
      /taken with fold aaaaaaaaaaaa, this build folds bbbbbbbbbbbb/,
    );
  });

  it('given records after it gone to retention, refuses it rather than skip them', () => {
    const trimmed = [{ partition: 0, low: 95n, high: 100n }, ranges[1]!];
    expect(refusal(snapshot([[0, 90n]]), 'a'.repeat(64), 'wallet.events', trimmed)).toMatch(/records 90..94 are gone/);
  });

  it('given a partition it never applied whose first records are gone, refuses it', () => {
    const trimmed = [ranges[0]!, { partition: 1, low: 3n, high: 50n }];
    expect(refusal(snapshot([[0, 90n]]), 'a'.repeat(64), 'wallet.events', trimmed)).toMatch(/partition 1 had nothing applied/);
  });

  it('given offsets past the topic’s end or another topic, refuses it', () => {
    expect(refusal(snapshot([[1, 60n]]), 'a'.repeat(64), 'wallet.events', ranges)).toMatch(/past the topic's end/);
    expect(refusal(snapshot([[0, 1n]]), 'a'.repeat(64), 'other', ranges)).toMatch(/not other/);
    expect(refusal(snapshot([[5, 1n]]), 'a'.repeat(64), 'wallet.events', ranges)).toMatch(/partition 5 is no longer/);
  });
});
