/** A readiness check resolves when its dependency is usable and throws otherwise. */
export type HealthCheck = () => Promise<void>;

export interface HealthReport {
  status: 'up' | 'down';
  checks: Record<string, { status: 'up' | 'down'; error?: string }>;
}

/**
 * Liveness says "the process can make progress; restart me if not". Readiness
 * says "send me work"; it fails while a dependency is unusable or while the
 * process drains for shutdown.
 */
export class Health {
  private readonly checks = new Map<string, HealthCheck>();
  private livenessProbe: () => string | undefined = () => undefined;
  private draining = false;

  addReadinessCheck(name: string, check: HealthCheck): this {
    this.checks.set(name, check);
    return this;
  }

  /** The probe returns a reason when the process is stuck, undefined when live. */
  setLivenessProbe(probe: () => string | undefined): this {
    this.livenessProbe = probe;
    return this;
  }

  startDraining(): void {
    this.draining = true;
  }

  liveness(): HealthReport {
    const reason = this.livenessProbe();
    return reason === undefined
      ? { status: 'up', checks: {} }
      : { status: 'down', checks: { progress: { status: 'down', error: reason } } };
  }

  async readiness(timeoutMs = 2_000): Promise<HealthReport> {
    const checks: HealthReport['checks'] = {};
    if (this.draining) checks.shutdown = { status: 'down', error: 'draining for shutdown' };
    await Promise.all(
      [...this.checks].map(async ([name, check]) => {
        try {
          await withTimeout(check(), timeoutMs, `${name} check timed out after ${timeoutMs} ms`);
          checks[name] = { status: 'up' };
        } catch (err) {
          checks[name] = { status: 'down', error: err instanceof Error ? err.message : String(err) };
        }
      }),
    );
    const up = Object.values(checks).every((c) => c.status === 'up');
    return { status: up ? 'up' : 'down', checks };
  }
}

function withTimeout<T>(p: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(message)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}
