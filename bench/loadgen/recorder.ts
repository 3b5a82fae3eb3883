/** One finished request, as the generator saw it. */
export interface Sample {
  /** When it was meant to be sent (open model) or was sent (closed model), ms since the run started. */
  intendedAt: number;
  /** Latency from the intended send time: a request the generator sent late is charged the delay. */
  latencyMs: number;
  status: number;
  hasRetryAfter: boolean;
  phase: string;
  /** The problem+json `code` of an error response, when it had one. */
  code?: string;
}

const CODE = /"code"\s*:\s*"([a-z_]{1,64})"/;

/** The `code` member of a problem+json body, without parsing the whole body. */
export function problemCode(status: number, body: string): string | undefined {
  return status >= 400 ? CODE.exec(body)?.[1] : undefined;
}

export interface LatencySummary {
  n: number;
  p50: number;
  p90: number;
  p95: number;
  p99: number;
  p999: number;
  max: number;
}

export function summarizeLatencies(latencies: Float64Array | number[]): LatencySummary {
  const sorted = Float64Array.from(latencies).sort();
  const at = (p: number) =>
    sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))]!;
  return { n: sorted.length, p50: at(0.5), p90: at(0.9), p95: at(0.95), p99: at(0.99), p999: at(0.999), max: at(1) };
}

/**
 * Collects samples and answers questions about them: by phase, by status
 * class, per second of the run (for a timeline and recovery checks).
 */
export class Recorder {
  readonly samples: Sample[] = [];
  /** Wall-clock time (epoch ms) of the run's start, from which intendedAt counts. */
  startedAtEpochMs = Date.now();
  /** Sends that left the generator later than intended (ms): how far the generator itself fell behind. */
  readonly sendLag: number[] = [];

  /** One line per request, "<intended send, epoch ms>,<latency ms>,<status>" (for bench/probes/correlate.ts). */
  toCsv(): string {
    return this.samples
      .map((s) => `${Math.round(this.startedAtEpochMs + s.intendedAt)},${s.latencyMs.toFixed(2)},${s.status}`)
      .join('\n');
  }

  add(sample: Sample): void {
    this.samples.push(sample);
  }

  filter(pred: (s: Sample) => boolean): Sample[] {
    return this.samples.filter(pred);
  }

  latency(pred: (s: Sample) => boolean = () => true): LatencySummary {
    return summarizeLatencies(this.samples.filter(pred).map((s) => s.latencyMs));
  }

  statusCounts(pred: (s: Sample) => boolean = () => true): Record<string, number> {
    const counts: Record<string, number> = {};
    for (const s of this.samples) if (pred(s)) counts[String(s.status)] = (counts[String(s.status)] ?? 0) + 1;
    return counts;
  }

  /** Error responses by status and problem code ("503 overloaded"). */
  errorCodes(pred: (s: Sample) => boolean = () => true): Record<string, number> {
    const counts: Record<string, number> = {};
    for (const s of this.samples) {
      if (!pred(s) || s.status < 400) continue;
      const k = `${s.status} ${s.code ?? ''}`.trim();
      counts[k] = (counts[k] ?? 0) + 1;
    }
    return counts;
  }

  /** Per second of intended send time: count, 2xx, refusals, and p50/p99 of the 2xx. */
  timeline(): { second: number; sent: number; ok: number; refused: number; failed: number; okP50: number; okP99: number }[] {
    const buckets = new Map<number, Sample[]>();
    for (const s of this.samples) {
      const k = Math.floor(s.intendedAt / 1000);
      let b = buckets.get(k);
      if (!b) buckets.set(k, (b = []));
      b.push(s);
    }
    return [...buckets.entries()]
      .sort(([a], [b]) => a - b)
      .map(([second, b]) => {
        const ok = b.filter((s) => s.status >= 200 && s.status < 300);
        const lat = summarizeLatencies(ok.map((s) => s.latencyMs));
        return {
          second,
          sent: b.length,
          ok: ok.length,
          refused: b.filter((s) => s.status === 429 || s.status === 503).length,
          failed: b.filter((s) => s.status === 0 || (s.status >= 500 && s.status !== 503)).length,
          okP50: lat.p50,
          okP99: lat.p99,
        };
      });
  }
}
