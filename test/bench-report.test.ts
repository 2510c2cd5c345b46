import { describe, expect, it } from 'vitest';
import { FULL_MESH, SEED_CLAIMS, TARGETS, type HealCut, type MeshResult } from '../bench/mesh.js';
import { renderReport } from '../bench/report.js';
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

// ---- the report ---------------------------------------------------------------------------------

function meshFixture(overrides: { detection?: (number | null)[]; peerLong?: number[]; long?: boolean } = {}): MeshResult {
  const detectionValues = overrides.detection ?? Array.from({ length: 20 }, (_, i) => 700 + i * 10);
  const detectionCuts = cuts(detectionValues);
  const heal = (cut: 'short' | 'long', ms: number[]): HealCut => {
    const runs = ms.map((value, index) => ({ cut, repetition: index + 1, updates: 10_000, cutLastedMs: cut === 'short' ? 3_900 : 31_600, ms: value, divergentRecords: 24_000, recordsShipped: 24_010 + index, bytesShipped: 2_800_000, recordsBefore: 0 }));
    return { askedMs: cut === 'short' ? 3_000 : 30_000, runs, ms: repeated(ms), cutLastedMs: repeated(runs.map((run) => run.cutLastedMs)), recordsShippedPerDivergent: repeated(runs.map((run) => Math.round((run.recordsShipped / run.divergentRecords) * 100) / 100)) };
  };
  const windows = [
    { kind: 'healthy' as const, ms: 5_000, acksByNode: [500, 500, 500, 500, 500] },
    { kind: 'partitioned' as const, ms: 5_000, acksByNode: [505, 505, 505, 503, 503] },
  ];
  const short = heal('short', [1_002, 1_100, 980]);
  const long = overrides.long === false ? null : heal('long', [1_513, 1_400, 1_600]);
  const peerSeries = (askedMs: number, ms: number[]) => ({ askedMs, runs: [], ms: repeated(ms), cutLastedMs: repeated(ms.map(() => askedMs + 16)) });
  const peerResult = {
    name: 'Yjs + y-webrtc' as const,
    versions: { yjs: '13.6.33', 'y-webrtc': '10.3.0' },
    updates: 10_000,
    entriesPerTransaction: 50,
    healTimeoutMs: 60_000,
    pollIntervalMs: 100,
    repetitions: 3,
    short: peerSeries(3_000, [3_458, 3_300, 3_600]),
    long: long === null ? null : peerSeries(30_000, overrides.peerLong ?? [634, 640, 610]),
  };
  const detectionVerdict = judgeDetection(detectionCuts, 1_500);
  return {
    schema: 2,
    run: { ranAt: '2026-12-03T08:00:00.000Z', finishedAt: '2026-12-03T08:40:00.000Z', durationMs: 2_400_000, quick: false, options: FULL_MESH, hardPartitions: true, chromium: 'Chromium 156', cores: 2, pollIntervalMs: 100, inFlightPerNode: 32 },
    targets: TARGETS,
    seedClaims: SEED_CLAIMS,
    failures: detectionVerdict.failures,
    falseSuspicions: { minutes: 10, count: 0, perHour: 0 },
    detection: { cuts: detectionCuts, verdict: detectionVerdict },
    throughput: { windows, sides: [[0, 1, 2], [3, 4]], verdict: judgeThroughput(windows, [[0, 1, 2], [3, 4]], 0.99) },
    heal: { short, long },
    peer: { result: peerResult, verdict: judgePeer({ short: short.ms, long: long?.ms ?? null }, { short: peerResult.short.ms, long: peerResult.long?.ms ?? null }, 0.5) },
    lostWrites: 0,
    converged: true,
    acknowledgedWrites: 86_000,
    clockBytes: { median: 6, p99: 15, messages: 123_457 },
  };
}

/** The report's text under one heading, up to the next. */
function sectionOf(markdown: string, heading: string): string {
  const start = markdown.indexOf(heading);
  expect(start).toBeGreaterThanOrEqual(0);
  const next = markdown.slice(start + heading.length).search(/\n#{2,3} /);
  return next < 0 ? markdown.slice(start) : markdown.slice(start, start + heading.length + next);
}

describe('docs/BENCHMARKS.md, generated from the JSON', () => {
  it('a run with one undetected cut says the run failed, names the node, and shows no p99 figure that hides it', () => {
    const detection: (number | null)[] = Array.from({ length: 20 }, () => 800);
    detection[6] = null;
    const markdown = renderReport({ mesh: meshFixture({ detection }) });
    expect(markdown).toContain('**This run failed:**');
    expect(markdown).toContain('- detection: cut 7 of 20 was never detected by node 3 (n6) within 30 s');
    const row = markdown.split('\n').find((line) => line.startsWith('| partition detection'))!;
    expect(row).toContain('max (n=20) missed');
    expect(row).toContain('1 of 20 cuts never detected (cut 7: node 3 (n6))');
    expect(row).toContain('**missed**');
    expect(row).not.toMatch(/p99[^|]*\d+ ms/);
    expect(markdown).toMatch(/\*\*Targets missed:\*\* partition detection/);
  });

  it('a detection row with every cut seen labels the top percentile by what it is at n = 20', () => {
    const row = renderReport({ mesh: meshFixture() }).split('\n').find((line) => line.startsWith('| partition detection'))!;
    expect(row).toContain('p50 (n=20) 790 ms, max (n=20) 890 ms');
    expect(row).toContain('| met |');
  });

  it('the peer comparison is judged on both cuts and the report says plainly where the peer is ahead', () => {
    const markdown = renderReport({ mesh: meshFixture() });
    expect(markdown).toContain('**Where the peer is ahead:** after the long cut Yjs + y-webrtc healed in 0.63 s (0.61–0.64 s, n=3), ours in 1.51 s (1.40–1.60 s, n=3).');
    expect(markdown).toMatch(/\*\*Targets missed:\*\*[^\n]*against Yjs \+ y-webrtc \(every cut\)/);
    const rows = markdown.split('\n').filter((line) => line.startsWith('| Yjs + y-webrtc'));
    expect(rows).toHaveLength(2);
    expect(rows[0]).toMatch(/short cut.*ours\/theirs 0\.29 \| met \|$/);
    expect(rows[1]).toMatch(/long cut.*\(\*\*the peer is ahead\*\*\) \| \*\*missed\*\* \|$/);
  });

  it('when ours is ahead on every cut the report says the peer is ahead nowhere, and the comparison is met', () => {
    const markdown = renderReport({ mesh: meshFixture({ peerLong: [3_400, 3_500, 3_300] }) });
    expect(markdown).toContain('**Where the peer is ahead:** nowhere in this run');
    expect(markdown).toMatch(/\*\*Targets met:\*\*[^\n]*against Yjs \+ y-webrtc/);
  });

  it('heal rows show the median of the repetitions with min and max, and shipping comes from the runs', () => {
    const markdown = renderReport({ mesh: meshFixture() });
    expect(markdown).toMatch(/\| heal of 10000 updates, short cut .*\| 1\.00 s \(0\.98–1\.10 s, n=3\) \| met \|/);
    expect(markdown).toContain('24010/24000, 24011/24000, 24012/24000');
  });

  it('the fixed prose carries no figures: the notes on heal time and on the peer have no digits', () => {
    const markdown = renderReport({ mesh: meshFixture() });
    for (const heading of ['### Where heal time goes', '### Why the peer\'s times look as they do']) expect(sectionOf(markdown, heading)).not.toMatch(/\d/);
    for (const stale of ['1.0x', '~0.05', '24,000', '~24', 'Every target is met']) expect(markdown).not.toContain(stale);
  });

  it('sections are optional; one without a layout here lists every number it holds by its path, with when it ran', () => {
    const markdown = renderReport({ mesh: meshFixture(), others: { scale: { ranAt: '2026-12-03T09:00:00Z', what: 'many nodes', nodes: 50, heal: { ms: 4_321 } } } });
    expect(markdown).not.toContain('## Hidden tabs');
    expect(markdown).toContain('## scale (docs/scale.json)');
    expect(markdown).toContain('Ran 2026-12-03T09:00:00Z, by its own script');
    expect(markdown).toContain('| heal.ms | 4321 |');
    expect(markdown).toContain('| nodes | 50 |');
  });

  it('the report ends with how long each section took and their total', () => {
    const markdown = renderReport({ mesh: meshFixture(), others: { scale: { benchRun: { ranAt: 'x', durationMs: 600_000, command: 'npx tsx bench/scale.ts', quick: false } } } });
    expect(sectionOf(markdown, '## How long it took')).toContain('- mesh: 40.0 min\n- scale: 10.0 min\n\nTotal of the timed sections: 50.0 min.');
  });
});
