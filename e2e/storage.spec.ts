/**
 * Honest storage in real Chromium (issue 9, item 5): a store the browser's quota has filled
 * (Storage.overrideQuotaForOrigin over CDP) still opens, also after a reload, recalls, refuses
 * new memories with a storage-full error giving the browser's usage and quota, and still forgets;
 * a database that vanishes under a running tab (site data cleared, another tab deleting it) is
 * noticed, recall is refused rather than answered from memory, and the page says so; a disk that
 * fills up (a small tmpfs profile) refuses the write as storage-full.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, expect, test, type CDPSession, type Page } from '@playwright/test';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from '../playwright.config.js';
import type { RunningServer } from '../signaling/server.js';
import { openNode, startEngramServer } from './cluster.js';

let server: RunningServer;

test.beforeEach(async () => {
  server = await startEngramServer();
});

test.afterEach(async () => {
  await server.close();
});

const origin = () => new URL(server.url).origin;

async function estimate(page: Page): Promise<{ usage: number; quota: number }> {
  return page.evaluate(async () => {
    const { usage, quota } = await navigator.storage.estimate();
    return { usage: usage ?? 0, quota: quota ?? 0 };
  });
}

async function setQuota(cdp: CDPSession, quotaSize: number): Promise<void> {
  await cdp.send('Storage.overrideQuotaForOrigin', { origin: origin(), quotaSize });
}

/** The rejection of a page call, as { code, message }; fails the test if it resolved. */
async function rejection(page: Page, call: string): Promise<{ code: string; message: string }> {
  const outcome = await page.evaluate(async (source) => {
    try {
      await (new Function('engram', `return (${source})(engram)`) as (engram: unknown) => Promise<unknown>)(window.engram);
      return { resolved: true as const };
    } catch (error) {
      return { resolved: false as const, code: String((error as { code?: unknown }).code), message: (error as Error).message };
    }
  }, call);
  if (outcome.resolved) throw new Error(`${call} resolved; expected a rejection`);
  return { code: outcome.code, message: outcome.message };
}

const recalledContents = (page: Page) =>
  page.evaluate(async () => (await window.engram!.recall({ tags: ['kept'], limit: 100 })).results.map((item) => item.content).sort());

/**
 * Chromium 150 (measured here) neither enforces Storage.overrideQuotaForOrigin on IndexedDB
 * writes (3 MB written under a 1 KB override) nor reports it through navigator.storage.estimate(),
 * which answers usage + a fixed 10 GiB (4 GiB off the record) whatever the real quota. So the
 * override is set over CDP as the issue asks, and the page's estimate() is made to report it
 * (usage stays the browser's real figure): the tab then judges its store as it would a genuinely
 * full one. IndexedDB, the node and the UI are real.
 */
async function fillQuota(cdp: CDPSession, page: Page, freeBytes: number): Promise<{ usage: number; quota: number }> {
  const { usage } = await estimate(page);
  const quota = usage + freeBytes;
  await setQuota(cdp, quota);
  await page.evaluate(([key, bytes]) => localStorage.setItem(key, String(bytes)), [QUOTA_KEY, quota] as const);
  return { usage, quota };
}

const QUOTA_KEY = 'engram-test-quota-bytes';

test('a full store opens, also after a reload, recalls, refuses new memories with the browser figures, still forgets, and the page says so', async ({ browser }, testInfo) => {
  const context = await browser.newContext();
  await context.addInitScript((key) => {
    const real = navigator.storage.estimate.bind(navigator.storage);
    navigator.storage.estimate = async () => {
      const figures = await real();
      const quota = localStorage.getItem(key);
      return quota === null ? figures : { ...figures, quota: Number(quota) };
    };
  }, QUOTA_KEY);
  try {
    const room = `full-${Date.now()}`;
    const url = `${server.url}?room=${room}`;
    const node = await openNode(context, url);
    const ids: string[] = [];
    for (const content of ['the shed key is under the pot', 'water the basil on fridays', 'the wifi password is on the fridge']) {
      ids.push(await node.page.evaluate(async (text) => (await window.engram!.remember({ content: text, tags: ['kept'] })).id, content));
    }
    const cdp = await context.newCDPSession(node.page);

    // 128 KiB free: under the 256 KiB kept for forgets. Before this change a reload on a full
    // store failed with "could not record the node start in storage".
    await fillQuota(cdp, node.page, 128 * 1024);
    await node.page.reload();
    await node.page.waitForFunction(() => document.documentElement.dataset.engramReady !== undefined);
    expect(await node.page.evaluate(() => window.engramError ?? null)).toBeNull();
    // Said at once, before any write is refused.
    await expect(node.page.locator('[data-status="storage-full"]')).toBeVisible();
    expect(await recalledContents(node.page)).toEqual(['the shed key is under the pot', 'the wifi password is on the fridge', 'water the basil on fridays']);
    const refused = await rejection(node.page, `(engram) => engram.remember({ content: 'plant garlic in october', tags: ['kept'] })`);
    expect(refused.code).toBe('storage-full');
    const status = await node.page.evaluate(() => window.engram!.storageStatus());
    expect(status.state).toBe('full');
    const mb = (bytes: number) => `${(bytes / 1_000_000).toFixed(bytes < 10_000_000 ? 2 : 1)} MB`;
    expect(refused.message).toBe(
      `The browser's storage for this site is full (${mb(status.usageBytes!)} used of ${mb(status.quotaBytes!)} allowed): this write was not saved. Forget memories you no longer need, or free space for this site in the browser's settings, then try again.`,
    );
    expect(status.quotaBytes! - status.usageBytes!).toBeLessThan(256 * 1024);
    expect(await recalledContents(node.page)).not.toContain('plant garlic in october');

    // A forget only adds a tombstone: it fits in the reserve.
    await node.page.evaluate(async (id) => window.engram!.forget(id), ids[1]!);
    expect(await recalledContents(node.page)).toEqual(['the shed key is under the pot', 'the wifi password is on the fridge']);

    const line = node.page.locator('[data-status="storage-full"]');
    await expect(line).toContainText('The browser’s storage for this site is full (');
    await expect(line).toContainText('new memories are not saved. Everything stored can still be read and forgotten');
    await expect(node.page.locator('engram-recall-box li[data-memory]')).toHaveCount(2);
    for (const width of [390, 1280]) {
      await node.page.setViewportSize({ width, height: 900 });
      await expect(line).toBeVisible();
      expect(await node.page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(width);
      await node.page.screenshot({ path: process.env.UPDATE_DOCS ? `docs/ui-storage-full-${width}.png` : testInfo.outputPath(`storage-full-${width}.png`) });
    }
  } finally {
    await context.close();
  }
});

for (const how of ['site data cleared', 'another tab deletes the database'] as const) {
  test(`a database that vanishes under the running tab (${how}) is noticed: recall refused with storage-lost, and the page says so`, async ({ browser }) => {
    const context = await browser.newContext();
    try {
      const room = `lost-${Date.now()}`;
      const node = await openNode(context, `${server.url}?room=${room}`);
      await node.page.evaluate(async () => window.engram!.remember({ content: 'the shed key is under the pot', tags: ['kept'] }));
      await expect(node.page.locator('engram-recall-box li[data-memory]')).toHaveCount(1);
      if (how === 'site data cleared') {
        const cdp = await context.newCDPSession(node.page);
        await cdp.send('Storage.clearDataForOrigin', { origin: origin(), storageTypes: 'indexeddb' });
      } else {
        const other = await context.newPage();
        await other.goto(`${server.url}?room=other-${room}`);
        await other.evaluate(
          (name) =>
            new Promise<void>((resolve, reject) => {
              const request = indexedDB.deleteDatabase(name);
              request.onsuccess = () => resolve();
              request.onerror = () => reject(request.error);
            }),
          `engram-${room}-${node.id}`,
        );
      }
      await node.page.waitForFunction(() => window.engram!.storageStatus().state === 'lost', undefined, { timeout: 10_000 });
      const recall = await rejection(node.page, `(engram) => engram.recall({ tags: ['kept'] })`);
      expect(recall.code).toBe('storage-lost');
      expect(recall.message).toMatch(/^This tab's database is gone \(.+\): nothing is saved any more/);
      expect((await rejection(node.page, `(engram) => engram.remember({ content: 'lost too' })`)).code).toBe('storage-lost');
      await expect(node.page.locator('[data-status="storage-lost"]')).toContainText('Recall is refused rather than answered from what this tab still holds in memory');
      // The recall panel no longer lists the memory as if it were still stored.
      await expect(node.page.locator('engram-recall-box li[data-memory]')).toHaveCount(0);
      await expect(node.page.locator('engram-recall-box .error')).toContainText("This tab's database is gone");
      if (how === 'site data cleared') {
        for (const width of [390, 1280]) {
          await node.page.setViewportSize({ width, height: 900 });
          expect(await node.page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(width);
          await node.page.screenshot({ path: process.env.UPDATE_DOCS ? `docs/ui-storage-lost-${width}.png` : test.info().outputPath(`storage-lost-${width}.png`) });
        }
      }
    } finally {
      await context.close();
    }
  });
}

/** Mounts a small tmpfs for a browser profile; undefined where this process may not mount (not root). */
function smallDisk(megabytes: number): { dir: string; unmount(): void } | undefined {
  const dir = mkdtempSync(join(tmpdir(), 'engram-small-disk-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${megabytes}m`, 'tmpfs', dir], { stdio: 'ignore' });
  } catch {
    rmSync(dir, { recursive: true, force: true });
    return undefined;
  }
  return {
    dir,
    unmount: () => {
      execFileSync('umount', [dir]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

test('a disk that fills up refuses the write with storage-full, then the database Chromium drops is reported lost', async () => {
  const disk = smallDisk(48);
  test.skip(disk === undefined, 'needs root to mount a small tmpfs for the profile');
  try {
    const context = await chromium.launchPersistentContext(disk!.dir, { executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS, headless: true });
    try {
      const node = await openNode(context, `${server.url}?room=disk-${Date.now()}`);
      const outcome = await node.page.evaluate(async () => {
        // 60 KB of text Chromium cannot compress, until the disk is full.
        const noise = () => Array.from({ length: 60_000 }, () => String.fromCharCode(33 + Math.floor(Math.random() * 90))).join('');
        for (let written = 0; written < 2_000; written++) {
          try {
            await window.engram!.remember({ content: noise() });
          } catch (error) {
            return { written, code: String((error as { code?: unknown }).code), message: (error as Error).message };
          }
        }
        return { written: 2_000, code: 'none', message: '' };
      });
      console.log(`disk full after ${outcome.written} memories of 60 KB: ${outcome.code}: ${outcome.message}`);
      expect(outcome.written).toBeGreaterThan(100);
      expect(outcome.code).toBe('storage-full');
      // Then Chromium 150 closes the connection and drops the database it could not write
      // (its usage falls to 0): the memories are gone from disk, and the tab says so.
      await node.page.waitForFunction(() => window.engram!.storageStatus().state === 'lost');
      await expect(node.page.locator('[data-status="storage-lost"]')).toContainText('database is gone');
      expect((await rejection(node.page, `(engram) => engram.recall({})`)).code).toBe('storage-lost');
    } finally {
      await context.close();
    }
  } finally {
    disk?.unmount();
  }
});
