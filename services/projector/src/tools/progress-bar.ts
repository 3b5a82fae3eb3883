export interface ProgressState {
  readonly label: string;
  readonly applied: number;
  readonly total: number;
  /** Events per second, smoothed. */
  readonly rate: number;
}

/** 75 → "1:15", 3725 → "1:02:05"; unknown or absurd → "--:--". */
export function formatEta(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0 || seconds > 360_000) return '--:--';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3_600);
  const m = Math.floor((s % 3_600) / 60);
  const sec = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${sec}` : `${m}:${sec}`;
}

const group = (n: number): string => Math.round(n).toLocaleString('en-US');

/** One line: label, bar, percentage, counts, rate and ETA. */
export function renderProgress(state: ProgressState, width = 24): string {
  const ratio = state.total > 0 ? Math.min(1, state.applied / state.total) : 0;
  const filled = Math.round(ratio * width);
  const bar = `${'█'.repeat(filled)}${'░'.repeat(width - filled)}`;
  const remaining = Math.max(0, state.total - state.applied);
  const eta = remaining === 0 ? '0:00' : state.rate > 0 ? formatEta(remaining / state.rate) : '--:--';
  return `${state.label} [${bar}] ${(ratio * 100).toFixed(1).padStart(5)}%  ${group(state.applied)}/${group(state.total)} events  ${group(state.rate)} ev/s  ETA ${eta}`;
}

/** Exponentially weighted rate: steady enough to read, quick enough to follow a change. */
export class RateMeter {
  private last: { at: number; count: number } | undefined;
  private smoothed = 0;

  constructor(private readonly alpha = 0.3) {}

  observe(count: number, at: number): number {
    if (this.last && at > this.last.at) {
      const instant = ((count - this.last.count) * 1000) / (at - this.last.at);
      this.smoothed = this.smoothed === 0 ? instant : this.alpha * instant + (1 - this.alpha) * this.smoothed;
    }
    this.last = { at, count };
    return Math.max(0, this.smoothed);
  }
}

/** Draws in place on a terminal; elsewhere (logs, CI) prints a line now and then. */
export class ProgressPrinter {
  private lastLineAt = 0;

  constructor(
    private readonly out: NodeJS.WriteStream = process.stderr,
    private readonly everyMs = 5_000,
  ) {}

  update(line: string, now = Date.now()): void {
    if (this.out.isTTY) {
      this.out.write(`\r\x1b[2K${line}`);
    } else if (now - this.lastLineAt >= this.everyMs) {
      this.lastLineAt = now;
      this.out.write(`${line}\n`);
    }
  }

  done(line: string): void {
    this.out.write(this.out.isTTY ? `\r\x1b[2K${line}\n` : `${line}\n`);
  }
}
