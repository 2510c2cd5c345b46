/**
 * Coalesces bursts of change events into at most one refresh per interval. A 10K-record heal
 * emits thousands of progress events per second; re-reading the node and re-rendering on each
 * would spend the tab's main thread on the UI instead of on the heal.
 */
export class RenderThrottle<Kind> {
  private pending = new Set<Kind>();
  private timer: ReturnType<typeof setTimeout> | undefined;
  private lastFlushAtMs = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly flush: (kinds: ReadonlySet<Kind>) => void,
    /** 100 ms: ~10 renders per second still reads as live, and costs little. */
    private readonly intervalMs = 100,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Records that `kind` changed; the flush runs on the next free slot with every kind noted since the last one. */
  note(kind: Kind): void {
    this.pending.add(kind);
    if (this.timer !== undefined) return;
    // After a quiet spell the flush still waits a tick, so a synchronous burst becomes one render.
    const waitMs = Math.max(0, this.lastFlushAtMs + this.intervalMs - this.now());
    this.timer = setTimeout(() => this.run(), waitMs);
  }

  cancel(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.pending.clear();
  }

  private run(): void {
    this.timer = undefined;
    this.lastFlushAtMs = this.now();
    const kinds = this.pending;
    this.pending = new Set();
    this.flush(kinds);
  }
}
