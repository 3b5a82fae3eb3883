import { setTimeout as sleep } from 'node:timers/promises';
import { Partitioners } from 'kafkajs';
import { createKafka, ensureTopics } from '@sluice/messaging';
import { createLogger } from '@sluice/observability';
import { testEnv, uniqueName } from '@sluice/testing';
import { readMachineStat, TICKS_PER_SEC } from './cpu';

/**
 * Before anything is measured: the broker's JVM warmed up and the machine
 * quiet. A broker started minutes before (make test's, or one a fault test
 * restarted) still compiles its produce and fetch paths, and spent up to
 * three times its warm CPU in whichever build ran first; that build then
 * looked worse for its place in the order, not for its code.
 */

/** Produces and consumes keyed records on a throwaway 12-partition topic for `seconds`, then deletes it. */
export async function warmBroker(seconds: number, say: (line: string) => void): Promise<{ records: number }> {
  const kafka = createKafka({ ...testEnv.kafka, clientId: 'sluice-bench-warmup', logger: createLogger('bench-warmup', 'warn') });
  const topic = uniqueName('platbench_warmup');
  await ensureTopics(kafka, [{ topic, partitions: 12 }]);
  const producer = kafka.producer({ allowAutoTopicCreation: false, createPartitioner: Partitioners.DefaultPartitioner });
  const consumer = kafka.consumer({ groupId: `${topic}.group`, maxWaitTimeInMs: 100 });
  let consumed = 0;
  let produced = 0;
  try {
    await producer.connect();
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      eachBatch: async ({ batch }) => {
        consumed += batch.messages.length;
      },
    });
    const payload = Buffer.alloc(200, 1);
    const until = Date.now() + seconds * 1_000;
    let lastSaid = Date.now();
    while (Date.now() < until) {
      const messages = Array.from({ length: 100 }, (_, i) => ({ key: `k${(produced + i) % 500}`, value: payload }));
      await producer.send({ topic, messages });
      produced += messages.length;
      if (Date.now() - lastSaid >= 5_000) {
        say(`  warming the broker: ${produced} records produced, ${consumed} consumed`);
        lastSaid = Date.now();
      }
      await sleep(5);
    }
  } finally {
    await consumer.disconnect().catch(() => undefined);
    await producer.disconnect().catch(() => undefined);
    const admin = kafka.admin();
    await admin.connect();
    await admin.deleteGroups([`${topic}.group`]).catch(() => undefined);
    await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
    await admin.disconnect();
  }
  return { records: produced };
}

/** The machine's busy CPU in ms per second over `seconds`, from /proc/stat (all cores summed). */
export async function machineBusyMsPerSec(seconds: number): Promise<number> {
  const a = readMachineStat();
  const t0 = performance.now();
  await sleep(seconds * 1_000);
  const b = readMachineStat();
  return ((b.busy - a.busy) * (1_000 / TICKS_PER_SEC)) / ((performance.now() - t0) / 1_000);
}

/**
 * Waits until the machine, before a build starts, is busy less than `limit` ms
 * per second over a 3 s window, or `maxSeconds` passed; returns the last reading
 * (kept with the run, so a noisy run can be told from a slow build).
 */
export async function waitQuiet(limit: number, maxSeconds: number, say: (line: string) => void): Promise<number> {
  const deadline = Date.now() + maxSeconds * 1_000;
  for (;;) {
    const busy = await machineBusyMsPerSec(3);
    if (busy < limit) return busy;
    if (Date.now() >= deadline) {
      say(`  the machine is still busy ${busy.toFixed(0)} ms/s (limit ${limit}) after ${maxSeconds} s: measuring anyway`);
      return busy;
    }
    say(`  waiting for a quiet machine: busy ${busy.toFixed(0)} ms/s, limit ${limit}`);
  }
}
