import type { AssignmentHooks, BatchContext, ConsumedMessage, Publisher, Subscriber } from './ports';

/** What an adapter gives the shared suite: fresh topics and groups, a publisher and subscribers. */
export interface SubscriberContractFixture {
  /** A new, empty topic with this many partitions. */
  topic(partitions: number): Promise<string>;
  group(): string;
  publisher: Publisher;
  subscriber(topic: string, group: string): Subscriber;
  /** How long a delivery may take (group joins included). */
  timeoutMs: number;
}

type Delivered = { partition: number; offset: string; value: string };

/** Waits until `check` holds, polling. */
async function until(what: string, check: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const values = (n: number, prefix = 'm') => Array.from({ length: n }, (_, i) => `${prefix}${i}`);

/**
 * The behaviour every Subscriber adapter must show (watermill's shared
 * pub/sub test suite is the model): run it from the adapter's int spec.
 */
export function subscriberContract(adapter: string, fixture: () => SubscriberContractFixture): void {
  describe(`Subscriber contract: ${adapter}`, () => {
    const running: Subscriber[] = [];
    let f: SubscriberContractFixture;

    beforeAll(() => {
      f = fixture();
    });

    afterEach(async () => {
      await Promise.all(running.splice(0).map((s) => s.stop()));
    });

    const start = async (
      topic: string,
      group: string,
      handler: (ms: readonly ConsumedMessage[], ctx: BatchContext) => Promise<void>,
      hooks?: AssignmentHooks,
    ) => {
      const s = f.subscriber(topic, group);
      running.push(s);
      await s.start(handler, hooks);
      return s;
    };

    const collect = (into: Delivered[]) => async (ms: readonly ConsumedMessage[]) => {
      for (const m of ms)
        into.push({ partition: m.record.partition, offset: m.record.offset, value: m.record.value?.toString() ?? '' });
    };

    it('delivers every record published, in offset order per partition', async () => {
      const topic = await f.topic(3);
      const sent = values(30);
      await f.publisher.publish(
        topic,
        sent.map((v, i) => ({ key: `k${i % 5}`, value: v })),
      );
      const got: Delivered[] = [];
      await start(topic, f.group(), collect(got));
      await until('30 records', () => got.length >= 30, f.timeoutMs);
      expect(got.map((d) => d.value).sort()).toEqual([...sent].sort());
      for (const p of [0, 1, 2]) {
        const offs = got.filter((d) => d.partition === p).map((d) => BigInt(d.offset));
        expect(offs).toEqual([...offs].sort((a, b) => (a < b ? -1 : 1)));
      }
    });

    it('commits what a handler finished: the next member of the group starts after it', async () => {
      const topic = await f.topic(1);
      const group = f.group();
      await f.publisher.publish(
        topic,
        values(5, 'a').map((v) => ({ key: 'k', value: v })),
      );
      const first: Delivered[] = [];
      const s = await start(topic, group, collect(first));
      await until('the first five', () => first.length >= 5, f.timeoutMs);
      await s.stop();
      await f.publisher.publish(
        topic,
        values(2, 'b').map((v) => ({ key: 'k', value: v })),
      );
      const second: Delivered[] = [];
      await start(topic, group, collect(second));
      await until('the next two', () => second.length >= 2, f.timeoutMs);
      expect(second.map((d) => d.value)).toEqual(['b0', 'b1']);
    });

    it('hands a batch over again when its handler fails: nothing is skipped, nothing overtakes it', async () => {
      const topic = await f.topic(1);
      await f.publisher.publish(
        topic,
        values(4).map((v) => ({ key: 'k', value: v })),
      );
      const got: Delivered[] = [];
      let failures = 0;
      await start(topic, f.group(), async (ms) => {
        if (ms.some((m) => m.record.value?.toString() === 'm2') && failures < 2) {
          failures++;
          throw new Error('passing failure');
        }
        await collect(got)(ms);
      });
      await until('every record', () => got.some((d) => d.value === 'm3'), f.timeoutMs);
      expect(failures).toBe(2);
      expect([...new Set(got.map((d) => d.value))]).toEqual(['m0', 'm1', 'm2', 'm3']);
    });

    it('after commit() mid-batch, a failure hands over only the records after it', async () => {
      const topic = await f.topic(1);
      await f.publisher.publish(
        topic,
        values(4).map((v) => ({ key: 'k', value: v })),
      );
      const calls: string[][] = [];
      let failed = false;
      await start(topic, f.group(), async (ms, ctx) => {
        calls.push(ms.map((m) => m.record.value?.toString() ?? ''));
        if (!failed && ms.length === 4) {
          await ctx.commit(ms[1]!.record);
          failed = true;
          throw new Error('after two');
        }
      });
      await until('the redelivery', () => calls.length >= 2, f.timeoutMs);
      expect(calls.slice(0, 2)).toEqual([values(4), ['m2', 'm3']]);
    });

    it('a batch released by its handler is not committed: the next member of the group gets it again', async () => {
      const topic = await f.topic(1);
      const group = f.group();
      await f.publisher.publish(topic, [{ key: 'k', value: 'kept' }]);
      let seen = 0;
      const s = await start(topic, group, async (_ms, ctx) => {
        seen++;
        ctx.release();
      });
      await until('the batch', () => seen > 0, f.timeoutMs);
      await s.stop();
      const again: Delivered[] = [];
      await start(topic, group, collect(again));
      await until('the same record', () => again.length > 0, f.timeoutMs);
      expect(again.map((d) => d.value)).toEqual(['kept']);
    });

    it('stop() aborts the signal of a batch in flight and waits for its handler', async () => {
      const topic = await f.topic(1);
      await f.publisher.publish(topic, [{ key: 'k', value: 'slow' }]);
      let started = false;
      let finished = false;
      const s = await start(topic, f.group(), async (_ms, ctx) => {
        started = true;
        await new Promise<void>((resolve) => ctx.signal.addEventListener('abort', () => resolve(), { once: true }));
        await new Promise((r) => setTimeout(r, 50));
        finished = true;
      });
      await until('the handler to start', () => started, f.timeoutMs);
      await s.stop();
      expect(finished).toBe(true);
    });

    it('tells assignment hooks the partitions it owns, and a seek there moves where they start', async () => {
      const topic = await f.topic(2);
      await f.publisher.publish(
        topic,
        values(6).map((v, i) => ({ key: 'k', value: v, partition: i % 2 })),
      );
      const got: Delivered[] = [];
      const assigned: number[][] = [];
      await start(topic, f.group(), collect(got), {
        onAssigned: (assignment, control) => {
          const partitions = [...(assignment.get(topic) ?? [])];
          assigned.push(partitions);
          if (partitions.length === 0) return;
          control.pause(topic, partitions);
          // Resumed after a pause, as a consumer reading its checkpoints from a database does.
          setTimeout(() => {
            for (const p of partitions) control.seek(topic, p, '2');
            control.resume(topic, partitions);
          }, 10);
        },
      });
      await until('the records from offset 2', () => got.length >= 2, f.timeoutMs);
      await new Promise((r) => setTimeout(r, 500));
      expect(assigned[0]).toEqual([0, 1]);
      expect(got.map((d) => d.value).sort()).toEqual(['m4', 'm5']);
    });
  });
}
