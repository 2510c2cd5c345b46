/**
 * docs/BENCHMARKS.md, generated entirely from the run's JSON: docs/benchmarks.json (the mesh
 * section, bench/mesh.ts) plus the section JSONs beside it (hidden-tabs, firefox-hidden,
 * forget-space, scale), each optional and rendered when present with when and how it was run.
 * Pure: JSON in, markdown out. Every number in the text comes from the JSON; the fixed prose says
 * what was measured and how, never a figure (issue 11: fixed figures once stood in every report
 * whatever the run measured).
 */
import type { HealCut, MeshResult } from './mesh.js';
import { atMost, formatMs, formatRepeated, type Distribution, type Figure, type Quantile } from './stats.js';

/** How the bench runner ran a section (added to the section's JSON by bench/run.ts). */
export interface SectionRun {
  readonly ranAt: string;
  readonly durationMs: number;
  readonly command: string;
  readonly quick: boolean;
  /** The machine's 1-minute load average when the section started and ended (absent in older runs). */
  readonly loadAverage?: { readonly start: number; readonly end: number };
}

/** What bench/hidden-tabs.ts writes (docs/hidden-tabs.json). */
export interface HiddenTabsSetting {
  readonly setting: readonly { readonly tab: number; readonly visibilityState: string; readonly timerChain3x10Ms: number }[];
  readonly steady: {
    readonly minutes: number;
    readonly writes: number;
    readonly falseSuspicions: number;
    readonly falseSuspicionsRaisedByTab: readonly number[];
    readonly aliveToDownSeenByTab: readonly number[];
    readonly failedProbesByTab: readonly number[];
    readonly lateProbeGracesByTab: readonly number[];
    /** Writes made in tabs 1-4 to each other tab; a write not arrived within arrivalWaitMs is a miss. */
    readonly hiddenWriteLatency: Distribution;
    readonly arrivalWaitMs: number;
  };
  readonly frozen: { readonly shownSleepingAfterMs: readonly (number | null)[]; readonly statesSeenWhileFrozen: readonly (readonly string[])[]; readonly convergedAfterResumeMs: number | null };
  readonly crashed: { readonly observers: readonly { readonly tab: number; readonly hidden: boolean; readonly deadAfterMs: number | null }[]; readonly hiddenObserversDeadMaxMs: Figure | null };
}

export interface HiddenTabsReport {
  readonly schema: 2;
  readonly what: string;
  readonly startedAt: string;
  readonly minutesPerSetting: number;
  readonly targets: { readonly falseSuspicions: number; readonly hiddenWriteLatencyP95Ms: number; readonly deadByHiddenObserversMs: number; readonly convergedAfterResumeMs: number };
  readonly hiddenTabs: HiddenTabsSetting;
  readonly allVisible: HiddenTabsSetting;
  readonly benchRun?: SectionRun;
}

interface FirefoxHeal {
  readonly records: number;
  readonly writtenIn: string;
  readonly healMs: number;
}

interface FirefoxState {
  readonly page: { readonly visibilityState: string; readonly timerChainMs: number };
  readonly latency: { readonly perArrival: Distribution; readonly toEveryTab: Distribution };
  readonly heal: { readonly intoFirefox: FirefoxHeal; readonly fromFirefox: FirefoxHeal };
}

/** What bench/firefox-hidden.ts writes (docs/firefox-hidden.json). */
export interface FirefoxHiddenReport {
  readonly schema: 2;
  readonly measuredAt: string;
  readonly firefox: string;
  readonly chromium: string;
  readonly setup: string;
  readonly writes: number;
  readonly writeGapMs: number;
  readonly timerChain: number;
  readonly visible: FirefoxState;
  readonly hidden: FirefoxState;
  readonly benchRun?: SectionRun;
}

export interface ReportInputs {
  readonly mesh?: MeshResult | undefined;
  readonly hiddenTabs?: HiddenTabsReport | undefined;
  readonly firefoxHidden?: FirefoxHiddenReport | undefined;
  /** Sections of other scripts (forget-space, scale), rendered generically: name → parsed JSON. */
  readonly others?: Readonly<Record<string, unknown>>;
}

const mark = (ok: boolean) => (ok ? 'met' : '**missed**');
const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const minutes = (ms: number) => `${(ms / 60_000).toFixed(1)} min`;
const quantileCell = (q: Quantile) => `${q.label} ${formatMs(q.value)}`;
const pct = (ratio: number) => `${(ratio * 100).toFixed(1)}%`;

/** "ran 2026-12-03T07:40Z for 12.3 min (`npm run bench -- --quick`)". */
function ranLine(run: SectionRun | undefined, fallbackAt: string | undefined): string {
  if (run === undefined) return `Ran ${fallbackAt ?? 'at a time not recorded'}, by its own script (not through \`npm run bench\`).`;
  const load = run.loadAverage ? `, 1-min load average ${run.loadAverage.start.toFixed(1)} at the start and ${run.loadAverage.end.toFixed(1)} at the end on this machine's cores` : '';
  return `Ran ${run.ranAt} for ${minutes(run.durationMs)} (\`${run.command}\`${run.quick ? ', quick: fewer and shorter steps, not the published figures' : ''}${load}).`;
  return `Ran ${fallbackAt ?? 'at a time not recorded'}, by its own script (not through \`npm run bench\`).`;
}

export function renderReport(inputs: ReportInputs): string {
  const parts: string[] = ['# Benchmarks', ''];
  parts.push(
    'Generated from docs/benchmarks.json and the section JSONs beside it (hidden-tabs.json, firefox-hidden.json, forget-space.json, scale.json, each when present) by `npm run bench`; `npm run bench -- --report` regenerates it without measuring, `npm run bench -- --only <section>` runs one section. Every figure below is read from those files.',
    '',
  );
  parts.push(summary(inputs), '');
  if (inputs.mesh) parts.push(meshSection(inputs.mesh));
  else parts.push('## Mesh\n\nNot measured: docs/benchmarks.json is missing.\n');
  if (inputs.hiddenTabs || inputs.firefoxHidden) parts.push(hiddenSection(inputs.hiddenTabs, inputs.firefoxHidden));
  if (inputs.firefoxHidden) parts.push(firefoxSection(inputs.firefoxHidden));
  for (const [name, json] of Object.entries(inputs.others ?? {})) parts.push(genericSection(name, json));
  parts.push(timeSection(inputs));
  return `${parts.join('\n').replace(/\n{3,}/g, '\n\n').trimEnd()}\n`;
}

/** The verdicts in one place, so README can point here instead of restating them. */
function summary(inputs: ReportInputs): string {
  const missed: string[] = [];
  const met: string[] = [];
  const mesh = inputs.mesh;
  const verdict = (name: string, ok: boolean) => (ok ? met : missed).push(name);
  if (mesh) {
    verdict('partition detection', mesh.detection.verdict.met);
    verdict('write throughput during a partition', mesh.throughput.verdict.met);
    verdict('heal after the short cut', atMost(mesh.heal.short.ms.median, mesh.targets.healMs));
    if (mesh.heal.long) verdict('heal after the long cut', atMost(mesh.heal.long.ms.median, mesh.targets.healMs));
    verdict('lost writes', mesh.lostWrites <= mesh.targets.lostWrites);
    verdict('vector-clock bytes', mesh.clockBytes.median <= mesh.targets.clockBytesMedian);
    verdict('false suspicions', mesh.falseSuspicions.perHour <= mesh.targets.falseSuspicionsPerHour);
    if ('verdict' in mesh.peer) verdict('against Yjs + y-webrtc (every cut)', mesh.peer.verdict.met);
  }
  if (inputs.hiddenTabs) for (const [name, ok] of hiddenVerdicts(inputs.hiddenTabs)) verdict(name, ok);
  const lines: string[] = [];
  const failures = mesh?.failures ?? [];
  if (failures.length > 0) lines.push(`**This run failed:**\n\n${failures.map((failure) => `- ${failure}`).join('\n')}\n`);
  lines.push(`**Targets met:** ${met.length === 0 ? 'none' : met.join(', ')}.`);
  lines.push('');
  lines.push(`**Targets missed:** ${missed.length === 0 ? 'none' : missed.join(', ')}.`);
  if (mesh && 'verdict' in mesh.peer) {
    lines.push('');
    lines.push(peerAheadSentence(mesh));
  }
  return lines.join('\n');
}

function peerAheadSentence(mesh: MeshResult): string {
  if (!('verdict' in mesh.peer)) return '';
  const ahead = mesh.peer.verdict.cuts.filter((cut) => cut.peerAhead);
  const notRun = mesh.peer.verdict.notRun.length > 0 ? ` (the ${mesh.peer.verdict.notRun.join(' and ')} cut was not run)` : '';
  if (ahead.length === 0) return `**Where the peer is ahead:** nowhere in this run: ours healed faster than Yjs + y-webrtc after every cut measured${notRun}.`;
  return `**Where the peer is ahead:** ${ahead
    .map((cut) => `after the ${cut.cut} cut Yjs + y-webrtc healed in ${formatRepeated(cut.theirs)}, ours in ${formatRepeated(cut.ours)}`)
    .join('; ')}${notRun}.`;
}

function meshSection(mesh: MeshResult): string {
  const { run, targets, seedClaims: claims, heal } = mesh;
  const det = mesh.detection.verdict.distribution;
  const missedCuts = mesh.detection.cuts.filter((cut) => cut.ms === null);
  const detectionCell =
    `${quantileCell(det.p50)}, ${quantileCell(det.p99)}` +
    (missedCuts.length > 0 ? `; ${missedCuts.length} of ${det.n} cuts never detected (${missedCuts.map((cut) => `cut ${cut.cut}: ${cut.undetectedBy.join(', ')}`).join('; ')})` : '');
  const tp = mesh.throughput.verdict;
  const throughputCell = tp.sides.map((side) => `nodes ${side.nodes.join(',')}: ${pct(side.ratio)} (${side.healthyPerNodePerS} → ${side.partitionedPerNodePerS} writes/s per node)`).join('; ');
  const healRow = (cut: HealCut, name: string) =>
    `| heal of ${cut.runs[0]?.updates ?? 0} updates, ${name} (asked ${s(cut.askedMs)}; lasted ${formatRepeated(cut.cutLastedMs)}) | ${name === 'short cut' ? s(claims.healMs) : '—'} | ≤ ${s(targets.healMs)} | ${formatRepeated(cut.ms)} | ${mark(atMost(cut.ms.median, targets.healMs))} |`;
  const shipped = (cut: HealCut) => `${cut === heal.short ? 'short' : 'long'}: ${formatRepeated(cut.recordsShippedPerDivergent, 'ms').replace(/ ms/g, '×')} (${cut.runs.map((r) => `${r.recordsShipped}/${r.divergentRecords}`).join(', ')})`;
  const rows = [
    '| metric | seed\'s claim | target | measured | |',
    '|---|---|---|---|---|',
    `| partition detection (n = ${det.n} cuts) | p99 ${s(claims.detectionP99Ms)} | top percentile ≤ ${targets.detectionMs} ms, every cut detected | ${detectionCell} | ${mark(mesh.detection.verdict.met)} |`,
    `| write throughput during a partition / healthy, per side (${tp.windows} alternating windows) | ${pct(claims.throughputRatio)} | ≥ ${pct(targets.throughputRatio)} on each side | ${throughputCell} | ${mark(tp.met)} |`,
    healRow(heal.short, 'short cut'),
    heal.long ? healRow(heal.long, 'long cut') : '| heal after a long cut | — | — | not run | |',
    `| records shipped / divergent, median (min–max) | — | — | ${[heal.short, ...(heal.long ? [heal.long] : [])].map(shipped).join('; ')} | |`,
    `| lost writes (of ${mesh.acknowledgedWrites} acknowledged) | ${claims.lostWrites} | ${targets.lostWrites} | ${mesh.lostWrites} | ${mark(mesh.lostWrites <= targets.lostWrites)} |`,
    `| vector-clock bytes per message (median, p99 of ${mesh.clockBytes.messages} messages) | ${claims.clockBytesPerMessage} | ≤ ${targets.clockBytesMedian} median | ${mesh.clockBytes.median}, ${mesh.clockBytes.p99} | ${mark(mesh.clockBytes.median <= targets.clockBytesMedian)} |`,
    `| false suspicions per hour (healthy, foreground; ${mesh.falseSuspicions.count} in ${mesh.falseSuspicions.minutes} min) | — | ${targets.falseSuspicionsPerHour} | ${mesh.falseSuspicions.perHour} | ${mark(mesh.falseSuspicions.perHour <= targets.falseSuspicionsPerHour)} |`,
    ...peerRows(mesh),
  ];
  return `## Mesh: ${run.options.nodes} browsers over real WebRTC (docs/benchmarks.json)

${ranLine({ ranAt: run.ranAt, durationMs: run.durationMs, command: `npm run bench${run.quick ? ' -- --quick' : ''}`, quick: run.quick, ...(run.loadAverage ? { loadAverage: run.loadAverage } : {}) }, undefined)}
${run.options.nodes} headless browsers (${run.chromium}) on one machine (${run.cores} cores), each a node of one room, talking over real WebRTC data channels.
Partitions: **${run.hardPartitions ? 'hard (iptables DROP in per-browser network namespaces)' : 'soft (messages dropped inside each node transport; data channels stay up)'}**.

${rows.join('\n')}

${meshHow(mesh)}
${peerHow(mesh)}
${HEAL_NOTES}
${'result' in mesh.peer ? PEER_NOTES : ''}
`;
}

function peerRows(mesh: MeshResult): string[] {
  if (!('verdict' in mesh.peer)) return [`| Yjs + y-webrtc on the same workload | — | ours ≤ ${mesh.targets.peerFactor} × theirs, every cut | not measured: ${mesh.peer.skipped} | |`];
  const { verdict, result } = mesh.peer;
  const rows = verdict.cuts.map((cut) => {
    const lasted = (cut.cut === 'short' ? result.short : result.long)?.cutLastedMs;
    return `| Yjs + y-webrtc, ${cut.cut} cut (lasted ${lasted ? formatRepeated(lasted) : '—'}) | — | ours ≤ ${verdict.factor} × theirs | theirs ${formatRepeated(cut.theirs)}, ours ${formatRepeated(cut.ours)}, ours/theirs ${cut.oursOverTheirs ?? '—'}${cut.peerAhead ? ' (**the peer is ahead**)' : ''} | ${mark(cut.met)} |`;
  });
  for (const cut of verdict.notRun) rows.push(`| Yjs + y-webrtc, ${cut} cut | — | ours ≤ ${verdict.factor} × theirs | not run, so the comparison is not met | **missed** |`);
  return rows;
}

function meshHow(mesh: MeshResult): string {
  const { run } = mesh;
  const o = run.options;
  return `How: detection is timed in each page from the moment the partition is applied until every node
across it is suspect or dead there; a cut's time is its slowest node's, and a node that has not seen it
within ${s(o.detectionWaitMs)} makes the cut a miss (+∞ in the percentiles, and a failure of the run). Each cut is
healed and the cluster back at ${o.nodes}/${o.nodes} before the next. Percentiles are nearest-rank and labelled at
their n (with ${o.cuts} cuts the top one is the maximum).
Throughput: after ${s(o.throughputWarmupMs)} of writing to warm the pages, ${o.throughputPairs} healthy and ${o.throughputPairs} partitioned windows of
${s(o.throughputWindowMs)} each, alternating, in one run; in each, every tab writes as fast as it can (${run.inFlightPerNode} writes in flight,
each acknowledged once durable). Before a healthy window the cluster is whole and converged; before a
partitioned one each side sees only itself. Reported per side as the ratio of per-node acknowledged
write rates, partitioned over healthy; the target must hold on each side.
Heal: both sides write ${o.updates} updates between them during the cut; heal time runs from removing the
partition until all Merkle roots are seen equal (checked every ${run.pollIntervalMs} ms, for y-webrtc's maps alike,
so each figure includes up to that much waiting to look). Each heal figure is the median of
${o.healRepetitions} repetitions in this run, short and long cuts interleaved in one room (so each repetition starts
with the records of those before it), with min and max beside it. Divergent records are Σ over
replicas of records that differ from the union at the heal.
Lost writes: every acknowledged write checked on every replica afterwards by the history checker.
False suspicions: no member fails during the healthy window, so every alive → suspect/dead change any node saw in it counts.
`;
}

function peerHow(mesh: MeshResult): string {
  if (!('result' in mesh.peer)) return `Yjs + y-webrtc: not run; ${mesh.peer.skipped}.\n`;
  const peer = mesh.peer.result;
  return `Yjs + y-webrtc (yjs ${peer.versions.yjs}, y-webrtc ${peer.versions['y-webrtc']}): after our own measurements the same
browsers open a page with one Y.Map replicated by y-webrtc (bench/yjs/), through y-webrtc's own
signaling server on the bridge address and without STUN servers, as ours. Same cuts, same
${peer.updates} updates: each node writes its share as distinct map entries, ${peer.entriesPerTransaction} per Y transaction (one
transaction of thousands of entries is one update bigger than a data-channel message, which never
syncs). Heal time runs from removing the partition until every map holds every entry with equal
content digests; a miss if not within ${s(peer.healTimeoutMs)}. Each of the ${peer.repetitions} repetitions of each cut starts from
a fresh room (empty documents). The comparison is judged on every cut: it is met only if ours is
within the factor on the short cut and on the long one.
`;
}

/** What the heal's time is made of (from bench/profile-heal.ts): mechanisms, no figures; measure them with that script. */
const HEAL_NOTES = `
### Where heal time goes

\`bench/profile-heal.ts\` (a timeline of every page's links, membership and heal sessions, and CPU
seconds per Chromium thread) shows where it goes; run it to put figures on these:

- **Reconnection.** A connection silent for longer than the transport's silence limit is replaced
  during the cut, so links across the cut reopen soon after the heal whatever the cut's length, and
  a link that opens to a member held dead gets its reconnection probe at once.
- **All nodes heal at once.** A node receiving in one session serves further openers one-way, so
  the larger side's extra node pulls from a node already busy instead of waiting for it; the
  records-shipped row above shows how close shipping stays to the divergent records.
- **Descent stops where listing keys is cheaper than another level of hashes.**
- **The rest is CPU:** several browsers on few cores decode, merge and commit every record delivery,
  and collect garbage.
`;

/** Why y-webrtc's times look as they do: mechanisms, no figures. */
const PEER_NOTES = `
### Why the peer's times look as they do

y-webrtc's channels stay open through a short cut, and the updates queued in them go out on SCTP's
next retransmission after the heal, after its backoff. Ours replaces a connection that has gone
silent, so its heal starts soon after the cut ends, over new connections. After a long cut y-webrtc
has re-announced itself through its signaling server and its new connections open as soon as the
cut ends; it then sends each peer its whole document in one message, which is cheap for a flat map.
`;

function hiddenVerdicts(report: HiddenTabsReport): [string, boolean][] {
  const t = report.targets;
  const h = report.hiddenTabs;
  return [
    ['hidden tabs: no false suspicions', h.steady.falseSuspicions <= t.falseSuspicions],
    ['hidden tabs: write latency p95', atMost(h.steady.hiddenWriteLatency.p95.value, t.hiddenWriteLatencyP95Ms)],
    ['hidden tabs: crashed tab declared dead', h.crashed.hiddenObserversDeadMaxMs !== null && atMost(h.crashed.hiddenObserversDeadMaxMs, t.deadByHiddenObserversMs)],
    ['hidden tabs: converged after resume', h.frozen.convergedAfterResumeMs !== null && h.frozen.convergedAfterResumeMs <= t.convergedAfterResumeMs],
    ['hidden tabs: frozen tab shown sleeping', h.frozen.statesSeenWhileFrozen.every((states) => states.length > 0 && states.every((state) => state === 'sleeping'))],
  ];
}

function hiddenSection(report: HiddenTabsReport | undefined, firefox: FirefoxHiddenReport | undefined): string {
  const parts = ['## Hidden tabs'];
  if (report === undefined) {
    parts.push('', 'Chromium hidden tabs: not measured (docs/hidden-tabs.json missing).');
  } else {
    const t = report.targets;
    const cell = (setting: HiddenTabsSetting, pick: (setting: HiddenTabsSetting) => string) => pick(setting);
    const settingLine = (setting: HiddenTabsSetting) => setting.setting.map((tab) => `tab ${tab.tab} ${tab.visibilityState} (chained timers: ${tab.timerChain3x10Ms} ms)`).join(', ');
    const name = (setting: HiddenTabsSetting) => {
      const hidden = setting.setting.filter((tab) => tab.visibilityState === 'hidden').length;
      return `${setting.setting.length - hidden} visible${hidden > 0 ? ` + ${hidden} hidden` : ''}`;
    };
    const latency = (setting: HiddenTabsSetting) => {
      const d = setting.steady.hiddenWriteLatency;
      return `${quantileCell(d.p50)}, ${quantileCell(d.p95)}, max ${formatMs(d.max)}${d.misses > 0 ? `; ${d.misses} not arrived within ${setting.steady.arrivalWaitMs} ms` : ''}`;
    };
    const dead = (setting: HiddenTabsSetting) => setting.crashed.observers.map((o) => `tab ${o.tab}${o.hidden ? ' (hidden)' : ''} ${o.deadAfterMs === null ? 'never' : `${o.deadAfterMs} ms`}`).join(', ');
    const sleeping = (setting: HiddenTabsSetting) => `shown sleeping after ${setting.frozen.shownSleepingAfterMs.map((ms) => (ms === null ? 'never' : `${ms} ms`)).join(', ')}; states seen while frozen: ${setting.frozen.statesSeenWhileFrozen.map((states) => states.join('→') || 'none').join(' | ')}`;
    const ffLatency = firefox ? `${quantileCell(firefox.hidden.latency.perArrival.p50)}, ${quantileCell(firefox.hidden.latency.perArrival.p95)}` : 'not measured';
    const verdicts = new Map(hiddenVerdicts(report));
    parts.push(
      '',
      ranLine(report.benchRun, report.startedAt),
      `${report.what}; ${report.minutesPerSetting} min of steady writes per setting, then a frozen and a crashed tab.`,
      '',
      `Setting "${name(report.hiddenTabs)}": ${settingLine(report.hiddenTabs)}.`,
      '',
      `Setting "${name(report.allVisible)}": ${settingLine(report.allVisible)}.`,
      '',
      `| figure | target | ${name(report.hiddenTabs)} (Chromium) | ${name(report.allVisible)} (Chromium) | hidden Firefox tab (firefox-hidden.json) | |`,
      '|---|---|---|---|---|---|',
      `| false suspicions raised (alive → suspect changes seen: per tab) | ${t.falseSuspicions} | ${report.hiddenTabs.steady.falseSuspicions} (${report.hiddenTabs.steady.aliveToDownSeenByTab.join('/')}) | ${report.allVisible.steady.falseSuspicions} (${report.allVisible.steady.aliveToDownSeenByTab.join('/')}) | — | ${mark(verdicts.get('hidden tabs: no false suspicions')!)} |`,
      `| failed probes per tab | — | ${report.hiddenTabs.steady.failedProbesByTab.join('/')} | ${report.allVisible.steady.failedProbesByTab.join('/')} | — | |`,
      `| write made in a hidden tab (the same tabs when all are visible) → each other tab (${report.hiddenTabs.steady.writes} / ${report.allVisible.steady.writes} writes) | p95 ≤ ${t.hiddenWriteLatencyP95Ms} ms | ${cell(report.hiddenTabs, latency)} | ${cell(report.allVisible, latency)} | ${ffLatency} | ${mark(verdicts.get('hidden tabs: write latency p95')!)} |`,
      `| crashed tab declared dead, by observer | hidden observers ≤ ${t.deadByHiddenObserversMs} ms | ${dead(report.hiddenTabs)} | ${dead(report.allVisible)} | — | ${mark(verdicts.get('hidden tabs: crashed tab declared dead')!)} |`,
      `| frozen tab | shown sleeping, never suspect or dead | ${sleeping(report.hiddenTabs)} | ${sleeping(report.allVisible)} | — | ${mark(verdicts.get('hidden tabs: frozen tab shown sleeping')!)} |`,
      `| converged after resume | ≤ ${t.convergedAfterResumeMs} ms | ${report.hiddenTabs.frozen.convergedAfterResumeMs ?? 'never'} ms | ${report.allVisible.frozen.convergedAfterResumeMs ?? 'never'} ms | — | ${mark(verdicts.get('hidden tabs: converged after resume')!)} |`,
    );
  }
  return `${parts.join('\n')}\n`;
}

function firefoxSection(report: FirefoxHiddenReport): string {
  const row = (name: string, pick: (state: FirefoxState) => string) => `| ${name} | ${pick(report.visible)} | ${pick(report.hidden)} |`;
  return `## Firefox next to Chromium (docs/firefox-hidden.json)

${ranLine(report.benchRun, report.measuredAt)}
${report.setup}; ${report.firefox}, Chromium ${report.chromium}. ${report.writes} writes made in the Firefox tab, ${report.writeGapMs} ms apart.

| figure | Firefox tab visible | Firefox tab hidden (another tab in front) |
|---|---|---|
${row('visibilityState', (state) => state.page.visibilityState)}
${row(`${report.timerChain} chained setTimeout(0)`, (state) => `${state.page.timerChainMs} ms`)}
${row('write in Firefox → each Chromium tab', (state) => `${quantileCell(state.latency.perArrival.p50)}, ${quantileCell(state.latency.perArrival.p95)}, max ${formatMs(state.latency.perArrival.max)}`)}
${row('write in Firefox → the last Chromium tab', (state) => `${quantileCell(state.latency.toEveryTab.p50)}, ${quantileCell(state.latency.toEveryTab.p95)}`)}
${row('soft-partition heal, records written in Chromium', (state) => `${state.heal.intoFirefox.records} records in ${state.heal.intoFirefox.healMs} ms`)}
${row('soft-partition heal, records written in Firefox', (state) => `${state.heal.fromFirefox.records} records in ${state.heal.fromFirefox.healMs} ms`)}
`;
}

/**
 * A section this module has no layout for (forget-space, scale, …). Its JSON may carry `what`,
 * `ranAt` and `how` (strings) and `rows` ([{ metric, measured, target?, met? }]); without rows
 * every number in it is listed by its path, so nothing it measured is left out or invented.
 */
function genericSection(name: string, json: unknown): string {
  const record = (json ?? {}) as Record<string, unknown>;
  const text = (key: string) => (typeof record[key] === 'string' ? (record[key] as string) : undefined);
  const parts = [`## ${name} (docs/${name}.json)`, ''];
  parts.push(ranLine(record.benchRun as SectionRun | undefined, text('ranAt') ?? text('startedAt') ?? text('measuredAt')));
  if (text('what')) parts.push('', text('what')!);
  if (text('how')) parts.push('', `How: ${text('how')!}`);
  parts.push('');
  const rows = record.rows;
  if (Array.isArray(rows) && rows.length > 0) {
    parts.push('| metric | target | measured | |', '|---|---|---|---|');
    for (const row of rows as Record<string, unknown>[]) {
      const met = typeof row.met === 'boolean' ? mark(row.met) : '';
      parts.push(`| ${String(row.metric ?? '')} | ${row.target === undefined ? '—' : String(row.target)} | ${String(row.measured ?? '')} | ${met} |`);
    }
  } else {
    const leaves = numericLeaves(record, '').filter(([path]) => !path.startsWith('benchRun.'));
    parts.push('| figure | value |', '|---|---|');
    for (const [path, value] of leaves.slice(0, 80)) parts.push(`| ${path} | ${value} |`);
    if (leaves.length > 80) parts.push(`| … ${leaves.length - 80} more in the JSON | |`);
  }
  return `${parts.join('\n')}\n`;
}

function numericLeaves(value: unknown, path: string): [string, number | boolean][] {
  if (typeof value === 'number' || typeof value === 'boolean') return [[path, value]];
  if (Array.isArray(value)) return value.flatMap((item, index) => numericLeaves(item, `${path}[${index}]`));
  if (value !== null && typeof value === 'object') return Object.entries(value).flatMap(([key, item]) => numericLeaves(item, path ? `${path}.${key}` : key));
  return [];
}

/** How long each section took, from the JSON: the total full-bench time is the sum. */
function timeSection(inputs: ReportInputs): string {
  const entries: [string, number | undefined][] = [
    ...(inputs.mesh ? [['mesh', inputs.mesh.run.durationMs] as [string, number]] : []),
    ...(inputs.hiddenTabs ? [['hidden-tabs', inputs.hiddenTabs.benchRun?.durationMs] as [string, number | undefined]] : []),
    ...(inputs.firefoxHidden ? [['firefox-hidden', inputs.firefoxHidden.benchRun?.durationMs] as [string, number | undefined]] : []),
    ...Object.entries(inputs.others ?? {}).map(([name, json]) => [name, (json as { benchRun?: SectionRun } | null)?.benchRun?.durationMs] as [string, number | undefined]),
  ];
  const known = entries.filter((entry): entry is [string, number] => entry[1] !== undefined);
  const total = known.reduce((sum, [, ms]) => sum + ms, 0);
  const unknown = entries.filter(([, ms]) => ms === undefined).map(([name]) => name);
  return `## How long it took

${known.map(([name, ms]) => `- ${name}: ${minutes(ms)}`).join('\n')}${unknown.length > 0 ? `\n- ${unknown.join(', ')}: not timed (run by its own script)` : ''}

Total of the timed sections: ${minutes(total)}.
`;
}
