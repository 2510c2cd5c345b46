/**
 * Tabs as people leave them: one visible and four genuinely hidden, throttled tabs of one
 * Chromium (started without the anti-throttling flags Playwright's launch() passes; see
 * src/testing/hidden-tabs.ts). The test first proves the setting (hidden, and chained timers
 * stretched to ~1 s wake-ups), then that a write made in a hidden tab reaches every other tab,
 * that a frozen tab is shown as sleeping rather than failed, and that it converges after resume.
 * Timings are recorded, not asserted tightly: bench/hidden-tabs.ts measures them.
 */
import { expect, test } from '@playwright/test';
import { arrivalTimes, HiddenTabsBrowser, measureThrottling, watchArrivals, writeIn } from '../src/testing/hidden-tabs.js';
import { startEngramServer, waitForConvergence, waitForVisibility } from './cluster.js';

const TABS = 5;

test('one visible and four hidden, throttled tabs: writes from a hidden tab reach every tab, a frozen tab sleeps and converges on resume', async () => {
  test.setTimeout(120_000);
  const server = await startEngramServer();
  const browser = await HiddenTabsBrowser.open({ url: `${server.url}?room=hidden-${Date.now()}`, tabs: TABS });
  try {
    const nodes = browser.tabs.map((tab) => ({ page: tab.page }));
    for (const tab of browser.tabs) {
      await tab.page.waitForFunction(() => document.documentElement.dataset.engramReady !== undefined, undefined, { timeout: 30_000 });
      expect(await tab.page.evaluate(() => window.engramError)).toBeUndefined();
    }
    // The setting: the first tab visible and on time, the others hidden and throttled.
    const throttling = await Promise.all(browser.tabs.map((tab) => measureThrottling(tab.page, 3)));
    console.log(`timer chains (3 x 10 ms): ${throttling.map((t) => `${t.visibilityState} ${Math.round(t.timerChainMs)} ms`).join(', ')}`);
    expect(throttling[0]!.visibilityState).toBe('visible');
    expect(throttling[0]!.timerChainMs).toBeLessThan(500);
    for (const hidden of throttling.slice(1)) {
      expect(hidden.visibilityState).toBe('hidden');
      expect(hidden.timerChainMs).toBeGreaterThan(1_500);
    }

    for (const node of nodes) await waitForVisibility(node, TABS, TABS, 45_000);
    for (const node of nodes) await watchArrivals(node.page);

    // Membership timers run on time in hidden tabs (they come from a worker, which is not
    // throttled): a 200 ms probe interval is ~15 probes in 3 s; on the page's 1 s wake-ups it was 3.
    const probes = () => Promise.all(nodes.map((node) => node.page.evaluate(() => window.engram!.stats().swim.probes ?? 0)));
    const probesBefore = await probes();
    await nodes[0]!.page.waitForTimeout(3_000);
    const probesIn3s = (await probes()).map((count, i) => count - probesBefore[i]!);
    console.log(`probes in 3 s: ${probesIn3s.join(' ')}`);
    for (const count of probesIn3s.slice(1)) expect(count).toBeGreaterThanOrEqual(9);

    // A write in a hidden tab arrives at every other tab.
    const writer = browser.tabs[2]!.page;
    const others = browser.tabs.filter((tab) => tab.page !== writer).map((tab) => tab.page);
    const latencies: number[] = [];
    for (let n = 0; n < 5; n++) {
      const { id, issuedAtMs } = await writeIn(writer, `written while hidden ${n}`);
      for (const page of others) {
        await expect.poll(async () => (await arrivalTimes(page, [id]))[0], { timeout: 10_000 }).toBeDefined();
        latencies.push(((await arrivalTimes(page, [id]))[0] as number) - issuedAtMs);
      }
    }
    console.log(`hidden write -> other tabs: ${latencies.map((ms) => Math.round(ms)).join(' ')} ms`);
    expect(latencies).toHaveLength(5 * (TABS - 1));
    await waitForConvergence(nodes, 15_000);

    // A hidden tab is frozen (its 'freeze' event fires first): the others show it sleeping, not failed.
    const frozen = browser.tabs[3]!;
    const frozenId = await frozen.page.evaluate(() => window.engram!.id);
    const awake = nodes.filter((node) => node.page !== frozen.page);
    // Every state the awake tabs give the frozen one from now on, not only the last.
    for (const node of awake) {
      await node.page.evaluate((id) => {
        const seen: string[] = [];
        (window as unknown as { frozenStates: string[] }).frozenStates = seen;
        window.engram!.on('membership', ({ member }) => {
          if (member.id === id) seen.push(member.state);
        });
      }, frozenId);
    }
    await browser.freeze(frozen.page);
    for (const node of awake) {
      await node.page.waitForFunction((id) => window.engram!.members().find((member) => member.id === id)?.state === 'sleeping', frozenId, { timeout: 10_000 });
    }
    // Each awake tab then probes on for 25 more rounds (5 s at the default 200 ms: past suspicion
    // and the transport's 2.5 s silence limit), counted by its own SWIM, not guessed by a sleep.
    const probesOf = (node: (typeof awake)[number]) => node.page.evaluate(() => window.engram!.stats().swim.probes ?? 0);
    const probesAtSleep = await Promise.all(awake.map(probesOf));
    for (const [i, node] of awake.entries()) await expect.poll(() => probesOf(node), { timeout: 30_000 }).toBeGreaterThanOrEqual((probesAtSleep[i] as number) + 25);
    for (const node of awake) {
      // Shown sleeping all along: never suspect, dead or alive while it was frozen.
      expect(await node.page.evaluate(() => (window as unknown as { frozenStates: string[] }).frozenStates)).toEqual(['sleeping']);
      expect(await node.page.evaluate(() => window.engram!.visibility())).toMatchObject({ visible: TABS - 1, total: TABS - 1, sleeping: 1 });
    }
    const { id: missed } = await writeIn(browser.tabs[0]!.page, 'written while a tab slept');
    const resumedAtMs = Date.now();
    await browser.resume(frozen.page);
    await expect.poll(async () => (await arrivalTimes(frozen.page, [missed]))[0], { timeout: 10_000 }).toBeDefined();
    await waitForConvergence(nodes, 10_000);
    for (const node of nodes) await waitForVisibility(node, TABS, TABS, 10_000);
    console.log(`resumed tab converged ${Date.now() - resumedAtMs} ms after resume`);
  } finally {
    await browser.close();
    await server.close();
  }
});
