/**
 * CPU of idle kafkajs clients: a consumer group member and a producer, connected and doing
 * nothing, as every Sluice consumer spends most of its life at low rates. Measures the installed
 * (patched) request queue against the 2.2.4 scheduling it replaces (kafkajs#1556: a 1 ms timer
 * re-armed for ever on every connection with no pending request), alternating rounds in one run.
 *
 *   node dist/bench/kafka-idle/main.js [--seconds 20] [--rounds 3]
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { createKafka, ensureTopics } from '@sluice/messaging';
import { createLogger } from '@sluice/observability';
import { testEnv } from '@sluice/testing';
import { option } from '../options';
import { writeResult } from '../results';
import { percentile, printTable } from '../stats';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const RequestQueue = require('kafkajs/src/network/requestQueue') as {
  prototype: { scheduleCheckPendingRequests: (this: QueueState) => void };
};
interface QueueState {
  throttledUntil: number;
  throttleCheckTimeoutId: NodeJS.Timeout | null;
  pending: unknown[];
  checkPendingRequests(): void;
}

const patched = RequestQueue.prototype.scheduleCheckPendingRequests;
/** kafkajs 2.2.4's scheduling: with nothing pending the delay stays at or below zero, which a timer runs after 1 ms. */
function unpatched(this: QueueState): void {
  if (this.throttleCheckTimeoutId) return;
  let delay = this.throttledUntil - Date.now();
  if (this.pending.length > 0 && delay <= 0) delay = 10;
  this.throttleCheckTimeoutId = setTimeout(() => {
    this.throttleCheckTimeoutId = null;
    this.checkPendingRequests();
  }, delay);
}

async function idleCpuMs(seconds: number, topic: string): Promise<number> {
  const kafka = createKafka({ ...testEnv.kafka, clientId: 'bench-idle', logger: createLogger('bench-idle', 'error') });
  const producer = kafka.producer();
  const consumer = kafka.consumer({ groupId: `${topic}-group`, maxWaitTimeInMs: 500 });
  await producer.connect();
  await consumer.connect();
  await consumer.subscribe({ topic });
  await consumer.run({ eachMessage: async () => undefined });
  await sleep(3_000); // joined and fetching
  const before = process.cpuUsage();
  await sleep(seconds * 1000);
  const used = process.cpuUsage(before);
  await consumer.disconnect();
  await producer.disconnect();
  return (used.user + used.system) / 1000;
}

async function main(): Promise<void> {
  const seconds = option('seconds', 20);
  const rounds = option('rounds', 3);
  const topic = `bench_idle_${Date.now().toString(36)}`;
  await ensureTopics(createKafka({ ...testEnv.kafka, clientId: 'bench-idle-admin', logger: createLogger('bench', 'error') }), [
    { topic, partitions: 12 },
  ]);
  const samples: Record<'patched' | 'kafkajs 2.2.4', number[]> = { patched: [], 'kafkajs 2.2.4': [] };
  for (let round = 1; round <= rounds; round++) {
    for (const [name, impl] of [
      ['kafkajs 2.2.4', unpatched],
      ['patched', patched],
    ] as const) {
      RequestQueue.prototype.scheduleCheckPendingRequests = impl;
      const ms = await idleCpuMs(seconds, topic);
      samples[name].push(ms / seconds);
      process.stderr.write(`round ${round}/${rounds} ${name}: ${(ms / seconds).toFixed(1)} ms CPU per second\n`);
    }
  }
  const rows = Object.entries(samples).map(([name, v]) => ({ client: name, cpuMsPerSecond: percentile(v, 50), samples: v }));
  printTable(
    `idle kafkajs consumer + producer, ${rounds} rounds of ${seconds} s`,
    ['request queue', 'CPU ms per second (median)', '% of a core'],
    rows.map((r) => [r.client, r.cpuMsPerSecond.toFixed(1), `${(r.cpuMsPerSecond / 10).toFixed(2)} %`]),
  );
  console.log(`written to ${writeResult('kafka-idle', { seconds, rounds, rows })}`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
