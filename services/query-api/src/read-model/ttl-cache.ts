/**
 * Cache-aside storage: entries live for `ttlMs` at most and are dropped at
 * once when the projector says their key changed. A fill that started before
 * an invalidation of its key is discarded (generation check), so a slow read
 * of the old row can never overwrite the news.
 */
export class TtlCache<V> {
  private readonly entries = new Map<string, { value: V; expiresAt: number }>();
  private readonly generations = new Map<string, number>();
  private epoch = 0;

  constructor(
    private readonly ttlMs: number,
    private readonly maxEntries: number,
    private readonly clock: () => number = Date.now,
  ) {}

  get(key: string): V | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt <= this.clock()) {
      this.entries.delete(key);
      return undefined;
    }
    // Least recently used goes first: re-insert to move to the end.
    this.entries.delete(key);
    this.entries.set(key, entry);
    return entry.value;
  }

  /** Call before reading the source; pass the token to set(). */
  begin(key: string): number {
    return this.epoch * 1_000_000_007 + (this.generations.get(key) ?? 0);
  }

  set(key: string, value: V, token: number): void {
    if (this.ttlMs <= 0 || token !== this.begin(key)) return;
    this.entries.delete(key);
    this.entries.set(key, { value, expiresAt: this.clock() + this.ttlMs });
    while (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next().value;
      if (oldest === undefined) break;
      this.entries.delete(oldest);
    }
  }

  invalidate(key: string): void {
    this.entries.delete(key);
    this.generations.set(key, (this.generations.get(key) ?? 0) + 1);
    // Generations only matter while a fill is in flight; keep the map from growing without bound.
    if (this.generations.size > this.maxEntries * 4) this.generations.clear();
  }

  /** Everything is void (a switch of the live version, or notifications were missed). */
  clear(): void {
    this.entries.clear();
    this.generations.clear();
    this.epoch++;
  }

  get size(): number {
    return this.entries.size;
  }
}
