/** The platform's targets (issue 13): a step passes when every answer is a 201 and both p99s are within them. */
export const LIMITS = { apiP99Ms: 50, visibleP99Ms: 250 } as const;

export interface StepVerdictInput {
  offered: number;
  /** Requests sent and 201s among them. */
  sent: number;
  ok: number;
  apiP99: number;
  /** NaN when no deposit was followed to the read model. */
  visibleP99: number;
  /** Followed deposits the query API never showed. */
  invisible: number;
}

export function verdict(s: StepVerdictInput, limits = LIMITS): { pass: boolean; reasons: string[] } {
  const reasons: string[] = [];
  if (s.ok < s.sent) reasons.push(`${s.sent - s.ok} not 201`);
  if (!(s.apiP99 <= limits.apiP99Ms)) reasons.push(`API p99 ${s.apiP99.toFixed(1)} ms > ${limits.apiP99Ms}`);
  if (Number.isNaN(s.visibleP99)) reasons.push('no deposit followed to the read model');
  else if (s.visibleP99 > limits.visibleP99Ms) reasons.push(`visible p99 ${s.visibleP99.toFixed(1)} ms > ${limits.visibleP99Ms}`);
  if (s.invisible > 0) reasons.push(`${s.invisible} deposits never visible`);
  return { pass: reasons.length === 0, reasons };
}

/**
 * The capacity: the offered rate of the highest step with it and every step
 * below it passing (a step that passes above a failed one may have been
 * spared a stall, and is reported beside it, not as it); 0 when the first
 * step fails. Steps in rising order.
 */
export function capacity(steps: readonly { offered: number; pass: boolean }[]): { capacity: number; highestPassing: number } {
  let cap = 0;
  for (const s of steps) {
    if (!s.pass) break;
    cap = s.offered;
  }
  const highestPassing = steps.filter((s) => s.pass).reduce((m, s) => Math.max(m, s.offered), 0);
  return { capacity: cap, highestPassing };
}

/** Median of a few rounds' figures (NaNs left out); NaN when none. */
export function median(values: readonly number[]): number {
  const v = values.filter((x) => !Number.isNaN(x)).sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  const mid = v.length >> 1;
  return v.length % 2 ? v[mid]! : (v[mid - 1]! + v[mid]!) / 2;
}
