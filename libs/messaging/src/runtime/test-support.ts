import type { BatchContext, ConsumedMessage, InboundRecord, OutboundMessage, Publisher } from './ports';

/** A record of topic t, partition 0, at `offset`, for middleware tests. */
export function record(
  offset: number,
  fields: { value?: string | Buffer | null; headers?: Record<string, string> } = {},
): InboundRecord {
  const value = fields.value === undefined ? `v${offset}` : fields.value;
  return {
    topic: 't',
    partition: 0,
    offset: String(offset),
    key: Buffer.from(`k${offset}`),
    value: value === null ? null : Buffer.isBuffer(value) ? value : Buffer.from(value),
    headers: Object.fromEntries(Object.entries(fields.headers ?? {}).map(([k, v]) => [k, [Buffer.from(v)]])),
    timestamp: new Date(1_700_000_000_000),
  };
}

export const messages = (...records: InboundRecord[]): ConsumedMessage[] => records.map((r) => ({ record: r }));

export function context(overrides: Partial<BatchContext> = {}): BatchContext & { commits: string[]; heartbeats: number } {
  const commits: string[] = [];
  const ctx = {
    topic: 't',
    partition: 0,
    highWatermark: '100',
    signal: new AbortController().signal,
    heartbeats: 0,
    heartbeat: async () => void ctx.heartbeats++,
    commit: async (r: InboundRecord) => void commits.push(r.offset),
    owned: () => true,
    release: () => undefined,
    commits,
    ...overrides,
  };
  return ctx;
}

export class MemoryPublisher implements Publisher {
  readonly sent: { topic: string; message: OutboundMessage }[] = [];
  async publish(topic: string, messages: readonly OutboundMessage[]): Promise<void> {
    for (const message of messages) this.sent.push({ topic, message });
  }
}

export const offsets = (ms: readonly ConsumedMessage[]): string[] => ms.map((m) => m.record.offset);
