/**
 * `npx tsx bench/firefox-hidden.ts` — how a Firefox tab the person is not looking at does next to
 * visible Chromium tabs (issue 12: Firefox throttles background tabs much harder than Chromium).
 *
 * One room: two Chromium tabs (Playwright's launch, so never throttled) and one Firefox tab
 * (firefox-esr over WebDriver BiDi, e2e/firefox.ts). Measured first with the Firefox tab visible,
 * then hidden the way a person hides it: a second tab opened in the same Firefox window and
 * brought to the front. The run checks that the tab really is hidden (document.visibilityState)
 * and that its timers really are throttled (chained setTimeout(0)) before measuring.
 *
 * For each state: write→arrival latency of writes made in the Firefox tab (from just before
 * `remember` in Firefox to the remote 'write' event in each Chromium tab, both on the machine's
 * wall clock), p50/p95 per arrival and per write at its last receiver; and soft-partition heals
 * of 2,000 records, written on the Chromium side and then in Firefox, timed from `faults.heal()`
 * to equal Merkle roots and all 2,000 recalled on the other side. Writes docs/firefox-hidden.json
 * (or --out FILE); --quick measures fewer writes' latency.
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { chromium } from '@playwright/test';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from '../src/testing/chromium.js';
import { openNode, startEngramServer } from '../e2e/cluster.js';
import {
  chromiumTab,
  healSoft,
  launchFirefox,
  openFirefoxTab,
  recalledWithTag,
  splitSoft,
  waitForEqualRoots,
  waitForVisible,
  waitUntil,
  writeMany,
  type FirefoxTab,
  type Tab,
} from '../e2e/firefox.js';
import type { FirefoxHiddenReport } from './report.js';
import { distribution, type Distribution } from './stats.js';

const { values: args } = parseArgs({ options: { quick: { type: 'boolean' }, out: { type: 'string', default: 'docs/firefox-hidden.json' } } });
/** --quick: fewer latency probes (the heals are the same size: their figures are issue 12's). */
const WRITES = args.quick === true ? 10 : 40;
/** Between two measured writes, so each is measured alone rather than batched with the previous. */
const WRITE_GAP_MS = 250;
const HEAL_RECORDS = 2_000;
/** Chained setTimeout(0) calls timed to show throttling (a visible tab runs them in a few ms). */
const TIMER_CHAIN = 5;

const log = (line: string) => process.stderr.write(`[firefox-hidden] ${line}\n`);

/** Nearest-rank percentiles, labelled at their n (bench/stats.ts). */
function latency(samples: readonly number[]): Distribution {
  return distribution(samples);
}

async function pageState(tab: FirefoxTab) {
  return tab.page.evaluate(async (chain) => {
    const started = performance.now();
    for (let i = 0; i < chain; i++) await new Promise((resolve) => setTimeout(resolve, 0));
    return { visibilityState: document.visibilityState, hidden: document.hidden, timerChainMs: Math.round(performance.now() - started) };
  }, TIMER_CHAIN);
}

/** Listens for remote writes in each receiver: arrival times on the wall clock, by memory id. */
async function watchArrivals(receivers: readonly Tab[]): Promise<void> {
  for (const tab of receivers) {
    await tab.evaluate(() => {
      const globals = window as unknown as { arrivals?: Record<string, number> };
      if (globals.arrivals) return;
      const arrivals: Record<string, number> = {};
      globals.arrivals = arrivals;
      window.engram!.on('write', (event) => {
        if (!event.local && arrivals[event.id] === undefined) arrivals[event.id] = Date.now();
      });
    }, undefined);
  }
}

async function measureLatency(writer: Tab, receivers: readonly Tab[], label: string) {
  await watchArrivals(receivers);
  const perArrival: number[] = [];
  const perWrite: number[] = [];
  for (let k = 0; k < WRITES; k++) {
    const { id, startedAt } = await writer.evaluate(async (content) => {
      const startedAt = Date.now();
      const { id } = await window.engram!.remember({ content });
      return { id, startedAt };
    }, `${label} latency probe ${k}`);
    let last = 0;
    for (const tab of receivers) {
      await waitUntil(tab, `arrival of ${id}`, (wanted) => (window as unknown as { arrivals: Record<string, number> }).arrivals[wanted] !== undefined, id, 30_000, 5);
      const arrivedAt = await tab.evaluate((wanted) => (window as unknown as { arrivals: Record<string, number> }).arrivals[wanted] as number, id);
      perArrival.push(arrivedAt - startedAt);
      last = Math.max(last, arrivedAt - startedAt);
    }
    perWrite.push(last);
    await new Promise((resolve) => setTimeout(resolve, WRITE_GAP_MS));
  }
  return { perArrival: latency(perArrival), toEveryTab: latency(perWrite) };
}

/**
 * A soft partition Firefox | Chromium with HEAL_RECORDS written on one side (`from`), healed:
 * the time from `faults.heal()` to equal Merkle roots and all of them recalled on the other side.
 */
async function measureHeal(firefox: FirefoxTab, chromiumTabs: readonly Tab[], tag: string, from: 'chromium' | 'firefox') {
  const tabs = [firefox, ...chromiumTabs];
  const writer = from === 'chromium' ? chromiumTabs[0]! : firefox;
  const receiver = from === 'chromium' ? firefox : chromiumTabs[1]!;
  await splitSoft([firefox], chromiumTabs);
  await waitForVisible(firefox, 1, 3, 120_000);
  for (const tab of chromiumTabs) await waitForVisible(tab, 2, 3, 120_000);
  const writeStarted = Date.now();
  await writeMany(writer, HEAL_RECORDS, tag);
  const writeMs = Date.now() - writeStarted;
  if (from === 'chromium') await waitForEqualRoots(chromiumTabs);
  if ((await recalledWithTag(receiver, tag)) !== 0) throw new Error(`the soft partition leaked records into ${receiver.label}`);
  const started = Date.now();
  await healSoft(tabs);
  await waitForEqualRoots(tabs, 120_000, 20);
  const rootsEqualMs = Date.now() - started;
  await waitUntil(receiver, `${HEAL_RECORDS} records recalled`, async ([label, count]) => (await window.engram!.recall({ tags: [label], limit: 0 })).matched === count, [tag, HEAL_RECORDS] as const, 120_000, 20);
  const healMs = Date.now() - started;
  for (const tab of tabs) await waitForVisible(tab, 3, 3, 120_000);
  const visibleAgainMs = Date.now() - started;
  return { records: HEAL_RECORDS, writtenIn: writer.label, writeMs, healMs, rootsEqualMs, visibleAgainMs };
}

async function measureHeals(firefox: FirefoxTab, chromiumTabs: readonly Tab[], state: string) {
  const intoFirefox = await measureHeal(firefox, chromiumTabs, `${state}-into-firefox`, 'chromium');
  log(`${state}: heal of ${HEAL_RECORDS} records Chromium → Firefox ${intoFirefox.healMs} ms`);
  const fromFirefox = await measureHeal(firefox, chromiumTabs, `${state}-from-firefox`, 'firefox');
  log(`${state}: heal of ${HEAL_RECORDS} records Firefox → Chromium ${fromFirefox.healMs} ms (the ${HEAL_RECORDS} writes in Firefox took ${fromFirefox.writeMs} ms)`);
  return { intoFirefox, fromFirefox };
}

async function main(): Promise<void> {
  const server = await startEngramServer();
  const url = `${server.url}?room=firefox-hidden-${Date.now()}#bench-secret`;
  const chromiumBrowser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS, headless: true });
  const firefoxBrowser = await launchFirefox();
  try {
    const context = await chromiumBrowser.newContext();
    const chromiumTabs = [chromiumTab(await openNode(context, url), 'chromium-1'), chromiumTab(await openNode(context, url), 'chromium-2')];
    const firefox = await openFirefoxTab(firefoxBrowser, url);
    for (const tab of [firefox, ...chromiumTabs]) await waitForVisible(tab, 3, 3);
    const firefoxVersion = await firefoxBrowser.version();
    const chromiumVersion = chromiumBrowser.version();

    const visibleState = await pageState(firefox);
    if (visibleState.visibilityState !== 'visible') throw new Error(`the first Firefox tab should start visible, it is ${visibleState.visibilityState}`);
    log(`Firefox tab visible; ${TIMER_CHAIN} chained setTimeout(0): ${visibleState.timerChainMs} ms`);
    const visibleLatency = await measureLatency(firefox, chromiumTabs, 'visible');
    log(`visible: write→arrival ${visibleLatency.perArrival.p50.label} ${visibleLatency.perArrival.p50.value} ms, ${visibleLatency.perArrival.p95.label} ${visibleLatency.perArrival.p95.value} ms`);
    const visibleHeal = await measureHeals(firefox, chromiumTabs, 'visible');

    // Hidden as a person hides it: another tab in the same window, in front.
    const cover = await firefoxBrowser.newPage();
    await cover.goto('about:blank');
    await cover.bringToFront();
    await waitUntil(firefox, 'the first tab hidden', () => document.visibilityState === 'hidden', undefined, 10_000);
    const hiddenState = await pageState(firefox);
    if (hiddenState.visibilityState !== 'hidden' || !hiddenState.hidden) throw new Error(`the Firefox tab is not hidden: ${JSON.stringify(hiddenState)}`);
    log(`Firefox tab hidden; ${TIMER_CHAIN} chained setTimeout(0): ${hiddenState.timerChainMs} ms`);
    const hiddenLatency = await measureLatency(firefox, chromiumTabs, 'hidden');
    log(`hidden: write→arrival ${hiddenLatency.perArrival.p50.label} ${hiddenLatency.perArrival.p50.value} ms, ${hiddenLatency.perArrival.p95.label} ${hiddenLatency.perArrival.p95.value} ms`);
    const hiddenHeal = await measureHeals(firefox, chromiumTabs, 'hidden');
    const stillHidden = await firefox.evaluate(() => document.visibilityState, undefined);
    if (stillHidden !== 'hidden') throw new Error(`the Firefox tab became ${stillHidden} during the measurement`);

    const result: FirefoxHiddenReport = {
      schema: 2,
      measuredAt: new Date().toISOString(),
      firefox: firefoxVersion,
      chromium: chromiumVersion,
      setup: '2 visible Chromium tabs (Playwright launch) + 1 Firefox ESR tab (puppeteer-core over WebDriver BiDi), one room with a secret, one machine, soft partitions',
      writes: WRITES,
      writeGapMs: WRITE_GAP_MS,
      timerChain: TIMER_CHAIN,
      visible: { page: visibleState, latency: visibleLatency, heal: visibleHeal },
      hidden: { page: hiddenState, latency: hiddenLatency, heal: hiddenHeal },
    };
    writeFileSync(args.out, `${JSON.stringify(result, null, 2)}\n`);
    log(`wrote ${args.out}`);
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  } finally {
    await firefoxBrowser.close();
    await chromiumBrowser.close();
    await server.close();
  }
}

await main();
