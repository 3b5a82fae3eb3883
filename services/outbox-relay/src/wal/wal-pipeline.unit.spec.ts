import { Registry } from 'prom-client';
import { createRelayMetrics } from '../metrics';
import type { RelayCheckpoint } from '../checkpoint/checkpoint-store';
import type { OutboxRecord } from '../publish/outbox-record';
import type { OutboxRowMapper } from './row-mapper';
import { WalPipeline } from './wal-pipeline';

/** XLogData frames as the walsender sends them: Begin, one Insert (no columns), Commit. */
function u64(v: bigint): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(v);
  return b;
}
function xlog(body: Buffer, walEnd: bigint): Buffer {
  return Buffer.concat([Buffer.from('w'), u64(walEnd), u64(walEnd), u64(0n), body]);
}
function transaction(commitLsn: bigint): Buffer[] {
  const begin = Buffer.concat([Buffer.from('B'), u64(commitLsn), u64(0n), Buffer.from([0, 0, 0, 1])]);
  const insert = Buffer.concat([Buffer.from('I'), Buffer.from([0, 0, 0, 7]), Buffer.from('N'), Buffer.from([0, 0])]);
  const commit = Buffer.concat([Buffer.from('C'), Buffer.from([0]), u64(commitLsn), u64(commitLsn + 8n), u64(0n)]);
  return [xlog(begin, commitLsn), xlog(insert, commitLsn), xlog(commit, commitLsn + 8n)];
}

function pipeline(maxBatchRecords: number) {
  const saves: RelayCheckpoint[] = [];
  const statuses: bigint[] = [];
  let published = 0;
  const record = { id: 'e', aggregateId: 'k', type: 'T', payload: Buffer.from('x'), headers: {} } as unknown as OutboxRecord;
  const p = new WalPipeline(
    {
      mapper: { onRelation: () => undefined, map: () => record } as unknown as OutboxRowMapper,
      publish: async (records) => void (published += records.length),
      saveCheckpoint: async (c) => void saves.push(c),
      sendStatus: (_received, flushed) => void statuses.push(flushed),
      pause: () => undefined,
      resume: () => undefined,
    },
    { maxRecordsInFlight: 10_000, maxBytesInFlight: 1 << 30, maxBatchRecords },
    createRelayMetrics(new Registry()),
    { confirmedLsn: 0n, resumeAfter: { commitLsn: 0n, idx: -1 } },
  );
  return { p, saves, statuses, published: () => published };
}

const settle = () => new Promise((r) => setImmediate(r)).then(() => new Promise((r) => setImmediate(r)));

describe('WalPipeline checkpoints', () => {
  it('saves once a batch worth of records is acknowledged, not after every batch; a status tick saves the rest', async () => {
    const { p, saves, statuses, published } = pipeline(10);
    // 25 one-record transactions, each in a read of its own: 25 batches of one.
    for (let i = 1; i <= 25; i++) {
      for (const frame of transaction(BigInt(i * 100))) p.onFrame(frame);
      await settle();
    }
    expect(published()).toBe(25);
    expect(saves.map((s) => s.commitLsn)).toEqual([1000n, 2000n]);
    // PostgreSQL is never told more than the saved checkpoint covers.
    expect(statuses.every((lsn) => lsn <= 2008n)).toBe(true);

    p.tick();
    await settle();
    expect(saves.at(-1)).toMatchObject({ commitLsn: 2500n, idx: 0, confirmedLsn: 2508n });
    expect(statuses.at(-1)).toBe(2508n);
  });

  it('saves what was acknowledged when the session stops', async () => {
    const { p, saves } = pipeline(10);
    for (let i = 1; i <= 3; i++) {
      for (const frame of transaction(BigInt(i * 100))) p.onFrame(frame);
      await settle();
    }
    expect(saves).toEqual([]);
    await p.stop(1_000);
    expect(saves).toEqual([{ commitLsn: 300n, idx: 0, confirmedLsn: 308n }]);
  });
});
