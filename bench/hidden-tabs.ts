/**
 * `npx tsx bench/hidden-tabs.ts [--minutes M] [--out docs/hidden-tabs.json]` — hidden tabs next
 * to visible ones, in one run. Two settings, M minutes of steady writes each, then a freeze and a
 * crash: (1) one visible tab and four genuinely hidden, throttled tabs of one Chromium (no
 * anti-throttling flags, background targets; src/testing/hidden-tabs.ts), (2) five visible tabs,
 * each the active tab of its own window. Reported for each:
 *
 * - the setting itself: each tab's visibilityState and three chained 10 ms timers' wall time;
 * - false suspicions: alive → suspect/dead transitions any tab saw while nothing failed, and
 *   failed probes (probe timeouts with no ack through helpers either);
 * - write → other tabs latency (p50, p95, max, n) for writes made in hidden tabs (in setting 2,
 *   the same tab indexes, visible), from the writer's call to the other tab's 'write' event;
 * - a frozen tab (Page.setWebLifecycleState): time until every other tab shows it sleeping,
 *   whether any showed it suspect or dead while frozen, and time from resume to converged;
 * - a crashed tab (every message to and from it dropped in its transport, so it goes silent as
 *   a killed tab does): time until each hidden observer (and the visible one) declares it dead.
 *
 * Targets (issue 12): 0 false suspicions, p95 <= 100 ms, dead within 2 s, converged within 1 s
 * of resume. The figures land in docs/hidden-tabs.json.
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { Page } from '@playwright/test';
import { startServer } from '../signaling/server.js';
import { arrivalTimes, HiddenTabsBrowser, measureThrottling, watchArrivals, writeIn } from '../src/testing/hidden-tabs.js';
import { installProbe } from './probe.js';
import type { HiddenTabsReport, HiddenTabsSetting } from './report.js';
import { distribution, MISSED, type Figure } from './stats.js';

const TABS = 5;
const WRITE_EVERY_MS = 1_000;

const { values } = parseArgs({ options: { minutes: { type: 'string', default: '2' }, out: { type: 'string', default: 'docs/hidden-tabs.json' } } });
const minutes = Number(values.minutes);
if (!(minutes > 0)) throw new RangeError(`--minutes must be a positive number, got ${values.minutes}`);

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function evaluate<T>(page: Page, expression: string): Promise<T> {
  // Strings, not functions: tsx would wrap closures in a helper the page does not have.
  return page.evaluate(expression) as Promise<T>;
}

async function waitFor(page: Page, expression: string, timeoutMs: number): Promise<number | null> {
  const startedMs = Date.now();
  while (Date.now() - startedMs <= timeoutMs) {
    if (await evaluate<boolean>(page, expression)) return Date.now() - startedMs;
    await sleep(20);
  }
  return null;
}

const stateOf = (id: string) => `(window.engram.members().find((m) => m.id === ${JSON.stringify(id)}) || {}).state`;

async function runSetting(url: string, allVisible: boolean): Promise<HiddenTabsSetting> {
  const browser = await HiddenTabsBrowser.open({ url, tabs: TABS, allVisible });
  try {
    const pages = browser.tabs.map((tab) => tab.page);
    for (const page of pages) {
      if ((await waitFor(page, 'document.documentElement.dataset.engramReady !== undefined', 30_000)) === null) throw new Error('a tab did not start');
    }
    const setting = await Promise.all(pages.map((page) => measureThrottling(page, 3)));
    const ids = await Promise.all(pages.map((page) => evaluate<string>(page, 'window.engram.id')));
    for (const page of pages) {
      if ((await waitFor(page, `window.engram.visibility().visible === ${TABS} && window.engram.visibility().total === ${TABS}`, 60_000)) === null) {
        throw new Error('the mesh did not form');
      }
      await watchArrivals(page);
      await installProbe(page);
    }
    await sleep(2_000);

    // ---- steady writes from the hidden tabs (indexes 1-4)
    const probesBefore = await Promise.all(pages.map((page) => evaluate<number>(page, 'window.engram.stats().swim.failedProbes || 0')));
    const raisedBefore = await Promise.all(pages.map((page) => evaluate<number>(page, 'window.engram.stats().swim.suspicionsRaised || 0')));
    const gracesBefore = await Promise.all(pages.map((page) => evaluate<number>(page, 'window.engram.stats().swim.lateProbeGraces || 0')));
    const sinceByPage = await Promise.all(pages.map((page) => evaluate<number>(page, 'performance.now()')));
    // A write not arrived at a tab by the time it is looked for is a miss (+∞), not left out.
    const latencies: (number | null)[] = [];
    const endMs = Date.now() + minutes * 60_000;
    let n = 0;
    while (Date.now() < endMs) {
      const writerIndex = 1 + (n % (TABS - 1));
      const { id, issuedAtMs } = await writeIn(pages[writerIndex]!, `hidden-tab bench ${n++}`);
      await sleep(WRITE_EVERY_MS);
      for (const [index, page] of pages.entries()) {
        if (index === writerIndex) continue;
        const [arrived] = await arrivalTimes(page, [id]);
        latencies.push(arrived === undefined ? null : arrived - issuedAtMs);
      }
    }
    // Nothing fails in this window, so every alive → suspect/dead change a tab saw is a false one.
    const aliveToDown = await Promise.all(pages.map((page, i) => evaluate<number>(page, `window.engramBench.aliveToDownSince(${sinceByPage[i]})`)));
    const failedProbes = await Promise.all(pages.map(async (page, i) => (await evaluate<number>(page, 'window.engram.stats().swim.failedProbes || 0')) - probesBefore[i]!));
    const raised = await Promise.all(pages.map(async (page, i) => (await evaluate<number>(page, 'window.engram.stats().swim.suspicionsRaised || 0')) - raisedBefore[i]!));
    const lateProbeGraces = await Promise.all(pages.map(async (page, i) => (await evaluate<number>(page, 'window.engram.stats().swim.lateProbeGraces || 0')) - gracesBefore[i]!));

    // ---- freeze a hidden tab, write elsewhere, resume
    const frozenIndex = 3;
    const frozenId = ids[frozenIndex]!;
    const watchers = pages.filter((_, i) => i !== frozenIndex);
    for (const page of watchers) {
      await evaluate(page, `(() => { window.benchSeen = []; window.engram.on('membership', ({ member }) => { if (member.id === ${JSON.stringify(frozenId)}) window.benchSeen.push(member.state); }); })()`);
    }
    const frozeAtMs = Date.now();
    await browser.freeze(pages[frozenIndex]!);
    const sleepingAfterMs = await Promise.all(watchers.map((page) => waitFor(page, `${stateOf(frozenId)} === 'sleeping'`, 10_000).then((ms) => (ms === null ? null : Date.now() - frozeAtMs))));
    await sleep(5_000);
    const seenWhileFrozen = await Promise.all(watchers.map((page) => evaluate<string[]>(page, 'window.benchSeen')));
    const { id: missed } = await writeIn(pages[0]!, 'written while a tab slept');
    await sleep(200);
    const resumedAtMs = Date.now();
    await browser.resume(pages[frozenIndex]!);
    let convergedMs: number | null = null;
    while (Date.now() - resumedAtMs < 15_000) {
      const [arrived] = await arrivalTimes(pages[frozenIndex]!, [missed]);
      const roots = await Promise.all(pages.map((page) => evaluate<string>(page, 'window.engram.merkleRoot()')));
      const alive = await Promise.all(watchers.map((page) => evaluate<boolean>(page, `${stateOf(frozenId)} === 'alive'`)));
      if (arrived !== undefined && new Set(roots).size === 1 && alive.every(Boolean)) {
        convergedMs = Date.now() - resumedAtMs;
        break;
      }
      await sleep(20);
    }
    await sleep(2_000);

    // ---- crash a hidden tab: it goes silent both ways
    const victimIndex = 4;
    const victimId = ids[victimIndex]!;
    await evaluate(pages[victimIndex]!, `window.engram.faults.block(${JSON.stringify(ids.filter((id) => id !== victimId))})`);
    const crashedAtMs = Date.now();
    const deadAfterMs = await Promise.all(
      pages.map((page, i) => (i === victimIndex ? Promise.resolve(undefined) : waitFor(page, `${stateOf(victimId)} === 'dead'`, 20_000).then((ms) => (ms === null ? null : Date.now() - crashedAtMs)))),
    );
    const observers = deadAfterMs.flatMap((ms, i) => (i === victimIndex || ms === undefined ? [] : [{ tab: i, hidden: browser.tabs[i]!.hidden, deadAfterMs: ms }]));
    const hiddenObservers = observers.filter((o) => o.hidden);
    // The slowest hidden observer; one that never declared it dead makes it a miss.
    const hiddenObserversDeadMaxMs: Figure | null =
      hiddenObservers.length === 0 ? null : hiddenObservers.some((o) => o.deadAfterMs === null) ? MISSED : Math.max(...hiddenObservers.map((o) => o.deadAfterMs ?? 0));

    return {
      setting: setting.map((t, i) => ({ tab: i, visibilityState: t.visibilityState, timerChain3x10Ms: Math.round(t.timerChainMs) })),
      steady: {
        minutes,
        writes: n,
        // Accusations: members a tab itself moved from alive to suspect (one per failed probe that
        // found its target alive); each is then seen by every tab, counted below per tab.
        falseSuspicions: raised.reduce((a, b) => a + b, 0),
        falseSuspicionsRaisedByTab: raised,
        aliveToDownSeenByTab: aliveToDown,
        failedProbesByTab: failedProbes,
        // Probe ticks that fired more than a probe timeout late (the tab's own thread held up).
        lateProbeGracesByTab: lateProbeGraces,
        hiddenWriteLatency: distribution(latencies),
        arrivalWaitMs: WRITE_EVERY_MS,
      },
      frozen: {
        shownSleepingAfterMs: sleepingAfterMs,
        statesSeenWhileFrozen: seenWhileFrozen,
        convergedAfterResumeMs: convergedMs,
      },
      crashed: {
        observers,
        hiddenObserversDeadMaxMs,
      },
    };
  } finally {
    await browser.close();
  }
}

const server = await startServer({ port: 0, host: '127.0.0.1', log: { info: () => undefined, warn: (line) => console.warn(line) } });
try {
  const startedAt = new Date().toISOString();
  const hidden = await runSetting(`${server.url}?room=bench-hidden-${Date.now()}`, false);
  console.log('1 visible + 4 hidden:', JSON.stringify(hidden, null, 2));
  const visible = await runSetting(`${server.url}?room=bench-visible-${Date.now()}`, true);
  console.log('5 visible:', JSON.stringify(visible, null, 2));
  const report: HiddenTabsReport = {
    schema: 2,
    what: 'bench/hidden-tabs.ts: 1 visible + 4 hidden throttled Chromium tabs vs 5 visible tabs, same run',
    startedAt,
    minutesPerSetting: minutes,
    targets: { falseSuspicions: 0, hiddenWriteLatencyP95Ms: 100, deadByHiddenObserversMs: 2_000, convergedAfterResumeMs: 1_000 },
    hiddenTabs: hidden,
    allVisible: visible,
  };
  writeFileSync(values.out, `${JSON.stringify(report, null, 2)}\n`);
  console.log(`wrote ${values.out}`);
} finally {
  await server.close();
}
