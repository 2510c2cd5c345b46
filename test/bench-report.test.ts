import { describe, expect, it } from 'vitest';
import { cutDetectionMs, distribution, judgeDetection, judgePeer, judgeThroughput, quantile, repeated, type DetectionCut } from '../bench/stats.js';

const cuts = (values: readonly (number | null)[]): DetectionCut[] =>
  values.map((ms, index) => ({ cut: index + 1, ms, undetectedBy: ms === null ? [`node 3 (n${index})`] : [], waitMs: 30_000 }));

describe('benchmark percentiles', () => {
  it('a percentile says what it is at its n: with 20 samples the p99 is the maximum', () => {
    const samples = Array.from({ length: 20 }, (_, i) => 100 + i * 10);
    expect(quantile(samples, 0.99)).toEqual({ label: 'max (n=20)', q: 0.99, rank: 20, value: 290 });
    expect(quantile(samples, 0.5)).toEqual({ label: 'p50 (n=20)', q: 0.5, rank: 10, value: 190 });
    expect(quantile(samples, 0.95)).toEqual({ label: 'p95 (n=20)', q: 0.95, rank: 19, value: 280 });
    const many = Array.from({ length: 200 }, (_, i) => i + 1);
    expect(quantile(many, 0.99)).toMatchObject({ label: 'p99 (n=200)', rank: 198, value: 198 });
  });

  it('a miss sorts last as +∞ wherever it sits in the samples, and is never a number', () => {
    for (const at of [0, 7, 19]) {
      const samples: (number | null)[] = Array.from({ length: 20 }, (_, i) => 500 + i);
      samples[at] = null;
      const stats = distribution(samples);
      expect(stats.misses).toBe(1);
      expect(stats.max).toBe('missed');
      expect(stats.p99).toMatchObject({ label: 'max (n=20)', value: 'missed' });
      expect(stats.p50.value).not.toBe('missed');
    }
  });

  it('NaN, as the old bench produced for an undetected page, is a miss too', () => {
    expect(distribution([800, Number.NaN, 900]).max).toBe('missed');
    expect(cutDetectionMs([700, Number.NaN, 650])).toBeNull();
  });

  it('the cut sorting with a - b would have hidden: a miss among many still reaches the top percentile', () => {
    // [NaN, ...] sorted with (a, b) => a - b leaves NaN in front on V8: the p99 showed a number.
    const naive = [Number.NaN, 900, 800, 1200].sort((a, b) => a - b);
    expect(Number.isNaN(naive[naive.length - 1]!)).toBe(false);
    expect(distribution([null, 900, 800, 1200]).p99.value).toBe('missed');
  });

  it('a cut is as slow as its slowest node, and missed if any node never saw it', () => {
    expect(cutDetectionMs([700, 1_100, 650])).toBe(1_100);
    expect(cutDetectionMs([700, null, 650])).toBeNull();
  });
});

describe('benchmark verdicts', () => {
  it('a run with one undetected cut reports it by name, fails, and publishes no p99 that hides it', () => {
    const values: (number | null)[] = Array.from({ length: 20 }, () => 800);
    values[6] = null;
    const verdict = judgeDetection(cuts(values), 1_500);
    expect(verdict.met).toBe(false);
    expect(verdict.failures).toEqual(['detection: cut 7 of 20 was never detected by node 3 (n6) within 30 s']);
    expect(verdict.distribution.p99).toMatchObject({ label: 'max (n=20)', value: 'missed' });
    expect(verdict.distribution.misses).toBe(1);
  });

  it('every cut detected within the target is met; one slow cut over it is missed without a failure line', () => {
    expect(judgeDetection(cuts([800, 1_200, 900]), 1_500)).toMatchObject({ met: true, failures: [] });
    expect(judgeDetection(cuts([800, 1_600, 900]), 1_500)).toMatchObject({ met: false, failures: [] });
  });

  it('heal repetitions give the median with min and max beside it, a repetition that never healed counted as +∞', () => {
    expect(repeated([1_300, 1_000, 1_100])).toEqual({ n: 3, misses: 0, median: 1_100, min: 1_000, max: 1_300, values: [1_300, 1_000, 1_100] });
    expect(repeated([1_300, null, 1_100])).toMatchObject({ median: 1_300, max: 'missed', misses: 1, values: [1_300, 'missed', 1_100] });
    expect(repeated([null, null, 1_100]).median).toBe('missed');
  });

  it('throughput is the ratio of per-node acknowledged write rates, per side, and the worse side is judged', () => {
    const sides = [[0, 1, 2], [3, 4]];
    const windows = [
      { kind: 'healthy' as const, ms: 5_000, acksByNode: [500, 500, 500, 500, 500] },
      { kind: 'partitioned' as const, ms: 5_000, acksByNode: [520, 520, 520, 450, 450] },
      { kind: 'healthy' as const, ms: 5_000, acksByNode: [500, 500, 500, 500, 500] },
      { kind: 'partitioned' as const, ms: 5_000, acksByNode: [520, 520, 520, 450, 450] },
    ];
    const verdict = judgeThroughput(windows, sides, 0.99);
    expect(verdict.sides.map((side) => side.ratio)).toEqual([1.04, 0.9]);
    expect(verdict.sides[1]).toMatchObject({ healthyPerNodePerS: 100, partitionedPerNodePerS: 90 });
    expect(verdict).toMatchObject({ ratio: 0.9, met: false, windows: 4 });
    expect(judgeThroughput(windows.map((w) => ({ ...w, acksByNode: [500, 500, 500, 500, 500] })), sides, 0.99)).toMatchObject({ ratio: 1, met: true });
  });

  it('throughput windows that do not alternate, or are not as many of each kind, are refused', () => {
    const h = { kind: 'healthy' as const, ms: 1_000, acksByNode: [1] };
    const p = { kind: 'partitioned' as const, ms: 1_000, acksByNode: [1] };
    expect(() => judgeThroughput([h, h, p, p], [[0]], 0.99)).toThrow(/alternate/);
    expect(() => judgeThroughput([h, p, h], [[0]], 0.99)).toThrow(/as many/);
  });

  it('the peer comparison is judged on both cuts: a long cut where the peer is ahead is missed and says so', () => {
    const ours = { short: repeated([1_000, 1_050, 980]), long: repeated([1_500, 1_520, 1_480]) };
    const theirs = { short: repeated([3_500, 3_400, 3_600]), long: repeated([630, 640, 620]) };
    const verdict = judgePeer(ours, theirs, 0.5);
    expect(verdict.met).toBe(false);
    expect(verdict.cuts.map((cut) => [cut.cut, cut.met, cut.peerAhead, cut.oursOverTheirs])).toEqual([
      ['short', true, false, 0.29],
      ['long', false, true, 2.38],
    ]);
  });

  it('a comparison without its long cut is not met, whatever the short cut says', () => {
    const verdict = judgePeer({ short: repeated([1_000]), long: null }, { short: repeated([3_500]), long: null }, 0.5);
    expect(verdict).toMatchObject({ met: false, notRun: ['long'] });
    expect(verdict.cuts[0]).toMatchObject({ cut: 'short', met: true });
  });

  it('a peer that never healed loses the cut; ours never healing loses it to the peer', () => {
    const verdict = judgePeer({ short: repeated([1_000]), long: repeated([null]) }, { short: repeated([null]), long: repeated([600]) }, 0.5);
    expect(verdict.cuts.map((cut) => [cut.met, cut.peerAhead, cut.oursOverTheirs])).toEqual([
      [true, false, null],
      [false, true, null],
    ]);
  });
});
