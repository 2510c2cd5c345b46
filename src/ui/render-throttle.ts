/**
 * Coalesces bursts of change events into at most one refresh per interval. A 10K-record heal
 * emits thousands of progress events per second; re-reading the node and re-rendering on each
 * would spend the tab's main thread on the UI instead of on the heal.
 *
 * The interval also stretches with what a refresh costs, so the UI takes at most `maxShare` of
 * the main thread. A refresh's cost is its script (from its start to the next task, which takes
 * in the microtasks it set off: Lit's update, the recall) plus the frame that paints it (from the
 * frame's start to the task after it: style, layout, paint). Counting the script alone missed
 * most of it: five tabs on two cores spent ~0.8 s of CPU a heal on frames the throttle never saw.
 */
export interface RenderThrottleOptions {
  /** Shortest spacing between refreshes. 100 ms: ~10 renders per second still reads as live. */
  intervalMs?: number;
  now?: () => number;
  /** Largest share of the main thread refreshes may take (0.1: a 20 ms refresh runs at most every 200 ms). */
  maxShare?: number;
  /** However costly a refresh, one runs at least this often, so the view never freezes. */
  maxIntervalMs?: number;
  /**
   * Calls `done` with the main-thread time of the next rendered frame. Default: from a
   * requestAnimationFrame callback to the task after it. Where frames never come (a hidden tab),
   * only the script is counted, which is then all a refresh costs.
   */
  measureFrame?: (done: (frameMs: number) => void) => void;
}

export class RenderThrottle<Kind> {
  private pending = new Set<Kind>();
  private timer: ReturnType<typeof setTimeout> | undefined;
  private lastFlushAtMs = Number.NEGATIVE_INFINITY;
  private lastCostMs = 0;
  private readonly intervalMs: number;
  private readonly now: () => number;
  private readonly maxShare: number;
  private readonly maxIntervalMs: number;
  private readonly measureFrame: ((done: (frameMs: number) => void) => void) | undefined;

  constructor(
    private readonly flush: (kinds: ReadonlySet<Kind>) => void,
    options: RenderThrottleOptions = {},
  ) {
    this.intervalMs = options.intervalMs ?? 100;
    this.now = options.now ?? (() => performance.now());
    this.maxShare = options.maxShare ?? 0.1;
    this.maxIntervalMs = options.maxIntervalMs ?? 2_000;
    this.measureFrame = options.measureFrame ?? defaultFrameMeasure(this.now);
  }

  /** The current spacing between refreshes. */
  get spacingMs(): number {
    return Math.min(this.maxIntervalMs, Math.max(this.intervalMs, this.lastCostMs / this.maxShare));
  }

  /** Records that `kind` changed; the flush runs on the next free slot with every kind noted since the last one. */
  note(kind: Kind): void {
    this.pending.add(kind);
    if (this.timer === undefined) this.arm();
  }

  private arm(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    // After a quiet spell the flush still waits a tick, so a synchronous burst becomes one render.
    const waitMs = Math.max(0, this.lastFlushAtMs + this.spacingMs - this.now());
    this.timer = setTimeout(() => this.run(), waitMs);
  }

  /** A refresh's cost is known only after it: a flush already waiting is moved to match. */
  private costKnown(costMs: number): void {
    this.lastCostMs = costMs;
    if (this.timer !== undefined) this.arm();
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
      const scriptMs = this.now() - startedAtMs;
      this.costKnown(scriptMs);
      this.measureFrame?.((frameMs) => {
        // A later refresh may have started meanwhile; its own measurement will follow.
        if (this.lastFlushAtMs === startedAtMs) this.costKnown(scriptMs + frameMs);
      });
    }, 0);
  }
}

function defaultFrameMeasure(now: () => number): ((done: (frameMs: number) => void) => void) | undefined {
  if (typeof requestAnimationFrame !== 'function') return undefined;
  return (done) =>
    requestAnimationFrame(() => {
      const frameStartMs = now();
      setTimeout(() => done(now() - frameStartMs), 0);
    });
}
