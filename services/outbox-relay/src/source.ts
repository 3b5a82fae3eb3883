/**
 * A way of reading the outbox (the WAL, or polling the table). The relay runs
 * one session at a time while it leads; between sessions it backs off.
 */
export interface OutboxSource {
  /** Streams until interrupted (resolves) or an error ends the session (rejects). */
  session(): Promise<void>;
  /** Ends the running session promptly; its unacknowledged records are read again next time. */
  interrupt(): Promise<void>;
  /** True while a session is reading and publishing. */
  readonly streaming: boolean;
  /** Periodic work of the mode (metrics, heartbeats), called on the status interval. */
  tick(): void;
}
