/**
 * The benchmark's arithmetic, pure: percentiles that keep misses, medians of repetitions,
 * throughput ratios and the verdicts drawn from them. bench/run.ts measures, this module judges,
 * bench/report.ts writes it down; test/bench-report.test.ts pins the rules.
 *
 * Two rules shape it (issue 11):
 * - A miss (a cut never detected, a heal that never converged, a write that never arrived) is a
 *   sample of +∞, never NaN or a dropped sample: it sorts last, so it is the max and every
 *   percentile whose rank reaches it says "missed". `Math.max` over NaN and `sort((a, b) => a - b)`
 *   with NaN in the array put a miss anywhere, and it could vanish from a p99.
 * - A percentile says what it is at its n: with 20 samples the nearest-rank p99 is the 20th of 20,
 *   the maximum, and it is labelled "max (n=20)", not "p99".
 */

/** One measurement in ms, or null when what it waited for never happened within its wait. */
export type Sample = number | null;

/** What JSON can hold of a figure: a number, or 'missed' (+∞: JSON has no Infinity). */
export type Figure = number | 'missed';

export const MISSED = 'missed' as const;

/** A nearest-rank quantile, labelled for what it is at this n. */
export interface Quantile {
  /** "p50 (n=20)", or "max (n=20)" when the rank is the last sample. */
  readonly label: string;
  readonly q: number;
  /** 1-based rank in the sorted samples: ceil(q·n). */
  readonly rank: number;
  readonly value: Figure;
}

export interface Distribution {
  readonly n: number;
  /** Samples that never happened (counted in n, sorted last as +∞). */
  readonly misses: number;
  readonly p50: Quantile;
  readonly p95: Quantile;
  readonly p99: Quantile;
  readonly min: Figure;
  readonly max: Figure;
}

/** Median and spread of a figure measured `n` times in one run. */
export interface Repeated {
  readonly n: number;
  readonly misses: number;
  readonly median: Figure;
  readonly min: Figure;
  readonly max: Figure;
  /** Every repetition, in the order measured. */
  readonly values: readonly Figure[];
}

const asNumber = (sample: Sample): number => (sample === null || Number.isNaN(sample) ? Number.POSITIVE_INFINITY : sample);
const asFigure = (value: number): Figure => (value === Number.POSITIVE_INFINITY ? MISSED : Math.round(value * 10) / 10);
/** Total order on numbers with +∞ (a - b is NaN for ∞ - ∞, which sort() reads as "any order"). */
const ascending = (a: number, b: number): number => (a === b ? 0 : a < b ? -1 : 1);

function sortedOf(samples: readonly Sample[]): number[] {
  return samples.map(asNumber).sort(ascending);
}

/** The nearest-rank q-quantile of the samples (null counted as +∞); throws on no samples. */
export function quantile(samples: readonly Sample[], q: number): Quantile {
  if (samples.length === 0) throw new RangeError('a quantile of no samples');
  if (!(q > 0 && q <= 1)) throw new RangeError(`q must be in (0, 1], got ${q}`);
  const sorted = sortedOf(samples);
  const n = sorted.length;
  const rank = Math.min(n, Math.max(1, Math.ceil(q * n - 1e-9)));
  const label = rank === n ? `max (n=${n})` : `p${Math.round(q * 1000) / 10} (n=${n})`;
  return { label, q, rank, value: asFigure(sorted[rank - 1]!) };
}

export function distribution(samples: readonly Sample[]): Distribution {
  const sorted = sortedOf(samples);
  return {
    n: sorted.length,
    misses: sorted.filter((value) => value === Number.POSITIVE_INFINITY).length,
    p50: quantile(samples, 0.5),
    p95: quantile(samples, 0.95),
    p99: quantile(samples, 0.99),
    min: asFigure(sorted[0]!),
    max: asFigure(sorted[sorted.length - 1]!),
  };
}

/** The median (nearest rank, so one of the measured values) with min and max of repetitions. */
export function repeated(samples: readonly Sample[]): Repeated {
  if (samples.length === 0) throw new RangeError('no repetitions');
  const sorted = sortedOf(samples);
  return {
    n: samples.length,
    misses: sorted.filter((value) => value === Number.POSITIVE_INFINITY).length,
    median: quantile(samples, 0.5).value,
    min: asFigure(sorted[0]!),
    max: asFigure(sorted[sorted.length - 1]!),
    values: samples.map((sample) => asFigure(asNumber(sample))),
  };
}

/** Whether a figure is at most `limit` (a miss never is). */
export function atMost(figure: Figure, limit: number): boolean {
  return figure !== MISSED && figure <= limit;
}

/** A figure for reading: "1331 ms", "1.3 s", or "missed". */
export function formatMs(figure: Figure, unit: 'ms' | 's' = 'ms'): string {
  if (figure === MISSED) return 'missed';
  return unit === 's' ? `${(figure / 1000).toFixed(2)} s` : `${Math.round(figure)} ms`;
}

/** A repeated figure for reading: "1.00 s (0.93–1.21 s, n=3)". */
export function formatRepeated(figure: Repeated, unit: 'ms' | 's' = 's'): string {
  const spread = figure.n > 1 ? ` (${formatMs(figure.min, unit).replace(/ m?s$/, '')}–${formatMs(figure.max, unit)}, n=${figure.n})` : ' (n=1)';
  return `${formatMs(figure.median, unit)}${spread}`;
}

// ---- detection -------------------------------------------------------------------------------

/** One cut of the detection measurement: when the last node saw the other side down, and who never did. */
export interface DetectionCut {
  /** 1-based. */
  readonly cut: number;
  /** From the cut until every node saw every node across it down; null if some node never did. */
  readonly ms: number | null;
  /** Nodes that never saw the whole other side down within the wait, by name. */
  readonly undetectedBy: readonly string[];
  readonly waitMs: number;
}

/** The per-cut time: the slowest node's, or a miss if any node never detected the cut. */
export function cutDetectionMs(detectedAfterMs: readonly (number | null)[]): number | null {
  if (detectedAfterMs.length === 0) throw new RangeError('a cut seen by no node');
  let slowest = 0;
  for (const ms of detectedAfterMs) {
    if (ms === null || Number.isNaN(ms)) return null;
    slowest = Math.max(slowest, ms);
  }
  return slowest;
}

export interface DetectionVerdict {
  readonly distribution: Distribution;
  readonly targetMs: number;
  /** Every cut detected and the top percentile within the target. */
  readonly met: boolean;
  /** One line per cut that some node never detected: these fail the run. */
  readonly failures: readonly string[];
}

export function judgeDetection(cuts: readonly DetectionCut[], targetMs: number): DetectionVerdict {
  const dist = distribution(cuts.map((cut) => cut.ms));
  const failures = cuts
    .filter((cut) => cut.ms === null)
    .map((cut) => `detection: cut ${cut.cut} of ${cuts.length} was never detected by ${cut.undetectedBy.join(', ')} within ${cut.waitMs / 1000} s`);
  return { distribution: dist, targetMs, met: failures.length === 0 && atMost(dist.p99.value, targetMs), failures };
}

// ---- throughput ------------------------------------------------------------------------------

/** One window of the throughput measurement: every node writing as fast as it can for `ms`. */
export interface ThroughputWindow {
  readonly kind: 'healthy' | 'partitioned';
  /** The window's measured length (every node's writes counted within it). */
  readonly ms: number;
  /** Writes acknowledged (durable) within the window, per node index. */
  readonly acksByNode: readonly number[];
}

export interface SideThroughput {
  /** Node indexes on this side of the partition. */
  readonly nodes: readonly number[];
  /** Acknowledged writes per node per second, over all windows of the kind. */
  readonly healthyPerNodePerS: number;
  readonly partitionedPerNodePerS: number;
  /** partitioned / healthy for these nodes. */
  readonly ratio: number;
}

export interface ThroughputVerdict {
  readonly sides: readonly SideThroughput[];
  /** The lower side's ratio: the target must hold on both sides. */
  readonly ratio: number;
  readonly target: number;
  readonly met: boolean;
  readonly windows: number;
}

/**
 * Per side, the partitioned per-node acknowledged write rate over the healthy one of the same
 * nodes. Windows must alternate and be equally many of each kind, so drift (warm-up, a growing
 * store) weighs on both kinds alike.
 */
export function judgeThroughput(windows: readonly ThroughputWindow[], sides: readonly (readonly number[])[], target: number): ThroughputVerdict {
  const healthy = windows.filter((window) => window.kind === 'healthy');
  const partitioned = windows.filter((window) => window.kind === 'partitioned');
  if (healthy.length === 0 || healthy.length !== partitioned.length) throw new RangeError(`throughput needs as many healthy as partitioned windows, got ${healthy.length} and ${partitioned.length}`);
  for (let i = 1; i < windows.length; i++) {
    if (windows[i]!.kind === windows[i - 1]!.kind) throw new RangeError(`throughput windows must alternate; windows ${i} and ${i + 1} are both ${windows[i]!.kind}`);
  }
  const rate = (kind: readonly ThroughputWindow[], nodes: readonly number[]) => {
    const acks = kind.reduce((sum, window) => sum + nodes.reduce((s, node) => s + (window.acksByNode[node] ?? 0), 0), 0);
    const seconds = kind.reduce((sum, window) => sum + window.ms, 0) / 1000;
    return acks / nodes.length / seconds;
  };
  const bySide = sides.map((nodes) => {
    const healthyPerNodePerS = rate(healthy, nodes);
    const partitionedPerNodePerS = rate(partitioned, nodes);
    return { nodes, healthyPerNodePerS: round(healthyPerNodePerS, 1), partitionedPerNodePerS: round(partitionedPerNodePerS, 1), ratio: round(partitionedPerNodePerS / healthyPerNodePerS, 3) };
  });
  const ratio = Math.min(...bySide.map((side) => side.ratio));
  return { sides: bySide, ratio, target, met: ratio >= target, windows: windows.length };
}

// ---- comparison with the peer ----------------------------------------------------------------

export interface CutComparison {
  readonly cut: 'short' | 'long';
  readonly ours: Repeated;
  readonly theirs: Repeated;
  /** Median over median; null when either missed. */
  readonly oursOverTheirs: number | null;
  /** Ours within `factor` of theirs (ours ≤ factor × theirs). */
  readonly met: boolean;
  /** Theirs strictly faster than ours (or ours missed while theirs healed). */
  readonly peerAhead: boolean;
}

export interface PeerVerdict {
  readonly factor: number;
  readonly cuts: readonly CutComparison[];
  /** Met on every cut that was run, and both cuts were run. */
  readonly met: boolean;
  /** Cuts that were not run (the quick bench runs no long cut): the verdict cannot be met without them. */
  readonly notRun: readonly ('short' | 'long')[];
}

/** Judged on every cut: a target met on the short cut alone is not met. */
export function judgePeer(ours: { short: Repeated; long: Repeated | null }, theirs: { short: Repeated; long: Repeated | null }, factor: number): PeerVerdict {
  const cuts: CutComparison[] = [];
  const notRun: ('short' | 'long')[] = [];
  for (const cut of ['short', 'long'] as const) {
    const mine = ours[cut];
    const peer = theirs[cut];
    if (mine === null || peer === null) {
      notRun.push(cut);
      continue;
    }
    const oursOverTheirs = mine.median === MISSED || peer.median === MISSED ? null : round(mine.median / peer.median, 2);
    const met = mine.median !== MISSED && (peer.median === MISSED || mine.median <= factor * peer.median);
    const peerAhead = peer.median !== MISSED && (mine.median === MISSED || peer.median < mine.median);
    cuts.push({ cut, ours: mine, theirs: peer, oursOverTheirs, met, peerAhead });
  }
  return { factor, cuts, met: notRun.length === 0 && cuts.every((cut) => cut.met), notRun };
}

function round(value: number, digits: number): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}
