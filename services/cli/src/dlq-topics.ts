import type { Kafka } from 'kafkajs';
import { errorMessage } from '@sluice/core';
import {
  createIdempotentProducer,
  KafkaPublisher,
  listDeadLetterTopics,
  readDeadLetters,
  redriveMessage,
  type AvroEventCodec,
  type DeadLetterRecord,
} from '@sluice/messaging';

/** The group whose committed offsets on a dead-letter topic mark what `redrive --all` has sent back. */
export const REDRIVE_GROUP = 'sluice-dlq-redrive';

export interface DlqTopicContext {
  kafka: Kafka;
  codec: AvroEventCodec;
  print: (line: string) => void;
}

export const DLQ_TOPIC_USAGE = `dlq topics                                       every dead-letter topic and how many records it holds
dlq list --topic <topic>                         the dead letters of a topic: where from, why, when
dlq inspect --topic <topic> <partition:offset>   one dead letter: error, headers, decoded event
dlq redrive --topic <topic> <partition:offset> | --all [--force]
                                                 send dead letters back to their original topic and partition
                                                 (--all: those not re-driven before; --force: a projector's too)`;

const printable = (b: Buffer): string =>
  /^[\x20-\x7e]*$/.test(b.toString('latin1')) ? b.toString('utf8') : `0x${b.toString('hex')}`;

function position(text: string | undefined): { partition: number; offset: string } {
  const m = /^(\d+):(\d+)$/.exec(text ?? '');
  if (!m) throw new Error(`"${text ?? ''}" is not <partition:offset>`);
  return { partition: Number(m[1]), offset: m[2]! };
}

export async function dlqTopics(ctx: DlqTopicContext): Promise<number> {
  const topics = await listDeadLetterTopics(ctx.kafka);
  if (topics.length === 0) ctx.print('no dead-letter topics');
  for (const t of topics) ctx.print(`${t.topic.padEnd(60)} ${String(t.records).padStart(8)} records`);
  return 0;
}

export async function dlqTopicList(ctx: DlqTopicContext, topic: string): Promise<number> {
  const letters = await readDeadLetters(ctx.kafka, topic);
  if (letters.length === 0) {
    ctx.print(`no dead letters on ${topic}`);
    return 0;
  }
  ctx.print(['p:offset'.padEnd(10), 'from'.padEnd(50), 'code'.padEnd(22), 'try', 'failed at'.padEnd(24), 'key'].join('  '));
  for (const l of letters) {
    const from = l.original ? `${l.original.topic} ${l.original.partition}:${l.original.offset}` : '-';
    ctx.print(
      [
        `${l.record.partition}:${l.record.offset}`.padEnd(10),
        from.padEnd(50),
        l.code.padEnd(22),
        String(l.attempts).padStart(3),
        (l.failedAt ?? '-').padEnd(24),
        l.record.key ? printable(l.record.key) : '-',
      ].join('  '),
    );
  }
  ctx.print(`\n${letters.length} dead letters; inspect: sluice dlq inspect --topic ${topic} <p:offset>`);
  return 0;
}

async function find(ctx: DlqTopicContext, topic: string, at: string | undefined): Promise<DeadLetterRecord | undefined> {
  const { partition, offset } = position(at);
  const letters = await readDeadLetters(ctx.kafka, topic, { from: new Map([[partition, offset]]) });
  return letters.find((l) => l.record.partition === partition && l.record.offset === offset);
}

export async function dlqTopicInspect(ctx: DlqTopicContext, topic: string, at: string | undefined): Promise<number> {
  const l = await find(ctx, topic, at);
  if (!l) {
    ctx.print(`no record ${at ?? ''} on ${topic}`);
    return 1;
  }
  ctx.print(`dead letter ${topic} ${l.record.partition}:${l.record.offset}`);
  if (l.original) ctx.print(`  from         ${l.original.topic} partition ${l.original.partition} offset ${l.original.offset}`);
  ctx.print(`  group        ${l.group ?? '-'}${l.projection ? ` (projection ${l.projection})` : ''}`);
  ctx.print(`  error        ${l.code}: ${l.reason}`);
  ctx.print(`  attempts     ${l.attempts}, failed at ${l.failedAt ?? '-'}`);
  ctx.print(`  key          ${l.record.key ? printable(l.record.key) : '(none)'}`);
  ctx.print('  headers');
  for (const [name, values] of Object.entries(l.record.headers)) ctx.print(`    ${name}: ${values.map(printable).join(', ')}`);
  const value = l.record.value;
  if (!value) ctx.print('  value        (none)');
  else {
    try {
      const decoded = await ctx.codec.decode(value);
      ctx.print(`  event        ${decoded.type} (schema ${decoded.schemaId})`);
      ctx.print(JSON.stringify(decoded.data, null, 2).replace(/^/gm, '    '));
    } catch (err) {
      ctx.print(
        `  value        ${value.length} bytes, not Avro this build knows (${errorMessage(err)}): ${printable(value.subarray(0, 200))}`,
      );
    }
  }
  return 0;
}

/**
 * Sends dead letters back to their original topic and partition. With
 * --all, the ones after REDRIVE_GROUP's committed offsets, which move past
 * them once sent: a second --all sends only what was parked since.
 */
export async function dlqTopicRedrive(
  ctx: DlqTopicContext,
  topic: string,
  selection: { at?: string; all: boolean; force: boolean },
): Promise<number> {
  const admin = ctx.kafka.admin();
  await admin.connect();
  const producer = createIdempotentProducer(ctx.kafka);
  await producer.connect();
  try {
    let letters: DeadLetterRecord[];
    if (selection.at !== undefined) {
      const one = await find(ctx, topic, selection.at);
      if (!one) {
        ctx.print(`no record ${selection.at} on ${topic}`);
        return 1;
      }
      letters = [one];
    } else if (selection.all) {
      const committed = await admin.fetchOffsets({ groupId: REDRIVE_GROUP, topics: [topic] });
      const from = new Map<number, string>();
      for (const p of committed[0]?.partitions ?? []) if (Number(p.offset) >= 0) from.set(p.partition, p.offset);
      letters = await readDeadLetters(ctx.kafka, topic, { from });
    } else {
      ctx.print('name a dead letter <partition:offset>, or --all');
      return 2;
    }
    const projector = letters.filter((l) => l.projection !== undefined);
    if (projector.length > 0 && !selection.force) {
      ctx.print(
        `${projector.length} of these are a projector's dead letters: re-drive its parked copies with \`sluice dlq redrive <id>\` (sluice dlq list), or pass --force to send them back to the event topic`,
      );
      return 1;
    }
    const publisher = new KafkaPublisher(producer);
    for (const l of letters) {
      const { topic: target, message } = redriveMessage(l);
      await publisher.publish(target, [message]);
      ctx.print(`  ${l.record.partition}:${l.record.offset}  → ${target} partition ${l.original!.partition}  (${l.code})`);
    }
    if (selection.all) {
      const last = new Map<number, bigint>();
      for (const l of letters) last.set(l.record.partition, BigInt(l.record.offset));
      if (last.size > 0) {
        await admin.setOffsets({
          groupId: REDRIVE_GROUP,
          topic,
          partitions: [...last].map(([partition, offset]) => ({ partition, offset: String(offset + 1n) })),
        });
      }
    }
    ctx.print(letters.length === 0 ? 'nothing to re-drive' : `${letters.length} re-driven`);
    return 0;
  } finally {
    await producer.disconnect();
    await admin.disconnect();
  }
}
