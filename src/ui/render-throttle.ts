/**
 * Coalesces bursts of change events into at most one refresh per interval. A 10K-record heal
 * emits thousands of progress events per second; re-reading the node and re-rendering on each
 * would spend the tab's main thread on the UI instead of on the heal.
 *
 * The interval also stretches with what a refresh costs, so the UI takes at most `maxShare` of
 * the main thread: with 20K memories a refresh (a recall over all of them, then the render) takes
 * ~20 ms, and ten of them a second were a fifth of a core per tab during a heal, five tabs on two
 * cores. A refresh's cost is measured from its start to the next task, which takes in the
 * microtasks it set off (Lit's update, the recall).
 */
export class RenderThrottle<Kind> {
  private pending = new Set<Kind>();
  private timer: ReturnType<typeof setTimeout> | undefined;
  private lastFlushAtMs = Number.NEGATIVE_INFINITY;
  private lastCostMs = 0;

  constructor(
    private readonly flush: (kinds: ReadonlySet<Kind>) => void,
    /** 100 ms: ~10 renders per second still reads as live, and costs little. */
    private readonly intervalMs = 100,
    private readonly now: () => number = () => performance.now(),
    /** Largest share of the main thread refreshes may take (0.1: a 20 ms refresh runs at most every 200 ms). */
    private readonly maxShare = 0.1,
    /** However costly a refresh, one runs at least this often, so the view never freezes. */
    private readonly maxIntervalMs = 2_000,
  ) {}

  /** The current spacing between refreshes. */
  get spacingMs(): number {
    return Math.min(this.maxIntervalMs, Math.max(this.intervalMs, this.lastCostMs / this.maxShare));
  }

  /** Records that `kind` changed; the flush runs on the next free slot with every kind noted since the last one. */
  note(kind: Kind): void {
    this.pending.add(kind);
    if (this.timer !== undefined) return;
    // After a quiet spell the flush still waits a tick, so a synchronous burst becomes one render.
    const waitMs = Math.max(0, this.lastFlushAtMs + this.spacingMs - this.now());
    this.timer = setTimeout(() => this.run(), waitMs);
  }

  cancel(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.pending.clear();
  }

  private run(): void {
    this.timer = undefined;
    const startedAtMs = this.now();
    this.lastFlushAtMs = startedAtMs;
    const kinds = this.pending;
    this.pending = new Set();
    this.flush(kinds);
    setTimeout(() => {
      this.lastCostMs = this.now() - startedAtMs;
    }, 0);
  }
}
