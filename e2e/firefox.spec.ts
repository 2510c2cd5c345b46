/**
 * Across engines: a Firefox tab (Debian's firefox-esr, driven by puppeteer-core over WebDriver
 * BiDi, see e2e/firefox.ts) and two Chromium tabs in one room with a room secret. Everything else
 * in the suite is Chromium-only, so this is what says the wire, the handshake's crypto, WebRTC
 * and IndexedDB behave the same in Firefox.
 */
import { expect, test } from '@playwright/test';
import type { Browser as FirefoxBrowser } from 'puppeteer-core';
import { openNode, startEngramServer } from './cluster.js';
import {
  chromiumTab,
  healSoft,
  launchFirefox,
  linkStates,
  missingOn,
  openFirefoxTab,
  recalledWithTag,
  splitSoft,
  waitForEqualRoots,
  waitForVisible,
  waitUntil,
  writeMany,
  type Tab,
} from './firefox.js';

const HEAL_RECORDS = 2_000;

function remember(tab: Tab, content: string): Promise<string> {
  return tab.evaluate(async (text) => (await window.engram!.remember({ content: text })).id, content);
}

function waitForMemory(tab: Tab, id: string, timeoutMs = 10_000): Promise<void> {
  return waitUntil(tab, `memory ${id}`, async (wanted) => (await window.engram!.get(wanted)) !== undefined, id, timeoutMs, 10);
}

test('a Firefox tab and two Chromium tabs in one room with a secret authenticate, replicate both ways and heal a soft partition of 2,000 records', async ({ browser }) => {
  const server = await startEngramServer();
  const url = `${server.url}?room=firefox-${Date.now()}#cross-engine-secret`;
  const context = await browser.newContext();
  let firefoxBrowser: FirefoxBrowser | undefined;
  try {
    const chromium = [chromiumTab(await openNode(context, url), 'chromium-1'), chromiumTab(await openNode(context, url), 'chromium-2')];
    firefoxBrowser = await launchFirefox();
    const firefox = await openFirefoxTab(firefoxBrowser, url);
    const tabs = [firefox, ...chromium];
    expect(await firefox.page.evaluate(() => navigator.userAgent)).toContain('Firefox/');

    await test.step('the three tabs authenticate each other with the room secret', async () => {
      for (const tab of tabs) await waitForVisible(tab, 3, 3);
      for (const tab of tabs) expect(await linkStates(tab), tab.label).toEqual(['open', 'open']);
      expect(await firefox.evaluate(() => window.engram!.secureContext, undefined)).toBe(true);
    });

    await test.step('a memory written in Firefox is recalled in both Chromium tabs', async () => {
      const started = Date.now();
      const id = await remember(firefox, 'firefox says the basil is planted');
      for (const tab of chromium) {
        await waitForMemory(tab, id);
        expect(await tab.evaluate(async () => (await window.engram!.recall({ text: 'basil' })).results.map((r) => r.content), undefined)).toEqual(['firefox says the basil is planted']);
      }
      console.log(`[firefox] Firefox → both Chromium tabs: ${Date.now() - started} ms`);
    });

    await test.step('a memory written in Chromium is recalled in Firefox', async () => {
      const started = Date.now();
      const id = await remember(chromium[1]!, 'chromium says the tomatoes are staked');
      await waitForMemory(firefox, id);
      expect(await firefox.evaluate(async () => (await window.engram!.recall({ text: 'tomatoes' })).results.map((r) => r.content), undefined)).toEqual(['chromium says the tomatoes are staked']);
      console.log(`[firefox] Chromium → Firefox: ${Date.now() - started} ms`);
    });

    await test.step(`a soft partition Firefox | Chromium, ${HEAL_RECORDS} records written on the Chromium side, heals into Firefox`, async () => {
      await splitSoft([firefox], chromium);
      await waitForVisible(firefox, 1, 3);
      for (const tab of chromium) await waitForVisible(tab, 2, 3);

      const ids = await writeMany(chromium[0]!, HEAL_RECORDS, 'cut');
      expect(ids).toHaveLength(HEAL_RECORDS);
      await waitForEqualRoots(chromium);
      // The cut held: Firefox has none of them before the heal.
      expect(await recalledWithTag(firefox, 'cut')).toBe(0);

      const healStarted = Date.now();
      await healSoft(tabs);
      await waitForEqualRoots(tabs, 60_000);
      await waitUntil(firefox, `${HEAL_RECORDS} records recalled`, async (label) => (await window.engram!.recall({ tags: [label], limit: 0 })).matched === 2_000, 'cut', 30_000, 20);
      const healMs = Date.now() - healStarted;
      console.log(`[firefox] heal of ${HEAL_RECORDS} records Chromium → Firefox: ${healMs} ms (from faults.heal() to equal Merkle roots and all ${HEAL_RECORDS} recalled in Firefox)`);
      test.info().annotations.push({ type: 'firefox heal ms', description: `${healMs}` });

      expect(await recalledWithTag(firefox, 'cut')).toBe(HEAL_RECORDS);
      expect(await missingOn(firefox, ids)).toEqual([]);
      for (const tab of tabs) await waitForVisible(tab, 3, 3);
    });
  } finally {
    await firefoxBrowser?.close();
    await context.close();
    await server.close();
  }
});
