/**
 * Forgetting in real Chromium tabs (issue 9, item 4; core/frontier.ts): a memory forgotten in one
 * tab and collected a horizon later does not come back when a tab closed before the forget is
 * reopened with its old copy, and the reopened tab lets go of that copy. The horizon that runs
 * is the product's own (a day): an init script moves every tab's Date.now, which is the node's
 * wall clock, a day and a minute ahead once the forgets are made.
 */
import { expect, test, type Page } from '@playwright/test';
import type { RunningServer } from '../signaling/server.js';
import { merkleRoots, openNode, startEngramServer, waitForVisibility } from './cluster.js';

const seeBoth = (nodes: readonly { page: Page }[]) => Promise.all(nodes.map((node) => waitForVisibility(node, 2, 2)));

let server: RunningServer;

test.beforeEach(async () => {
  server = await startEngramServer();
});

test.afterEach(async () => {
  await server.close();
});

const CLOCK_SCRIPT = `(() => {
  const real = Date.now.bind(Date);
  Date.now = () => real() + Number(localStorage.getItem('testWallOffsetMs') ?? 0);
})();`;

const MEMORIES = 300;

const liveCount = (page: Page) => page.evaluate(async () => (await window.engram!.recall({ limit: 1 })).matched);
const heldRecords = (page: Page) => page.evaluate(() => window.engram!.snapshot().records.length);

test('a memory forgotten and collected does not come back when a tab that held it is reopened a day later, and that tab lets go of it', async ({ browser }) => {
  const context = await browser.newContext();
  await context.addInitScript({ content: CLOCK_SCRIPT });
  const room = `forget-${Date.now()}`;
  const url = `${server.url}?room=${room}`;
  const a = await openNode(context, url);
  const b = await openNode(context, url);
  await seeBoth([a, b]);
  const ids = await a.page.evaluate(
    (count) => Promise.all(Array.from({ length: count }, (_, i) => window.engram!.remember({ content: `note ${i}`, tags: ['kept'] }).then((r) => r.id))),
    MEMORIES,
  );
  await expect.poll(() => liveCount(b.page), { timeout: 30_000 }).toBe(MEMORIES);

  // The second tab closes holding every memory; its replica stays in the browser.
  await b.page.close();
  await a.page.evaluate((all) => Promise.all(all.map((id) => window.engram!.forget(id))), ids);
  expect(await liveCount(a.page)).toBe(0);
  expect(await a.page.evaluate(() => window.engram!.forgetting().tombstones)).toBe(MEMORIES);

  // A day and a minute later: the tombstones are past the horizon and the first tab collects them.
  const horizonMs = await a.page.evaluate(() => window.engram!.forgetting().horizonMs);
  expect(horizonMs).toBe(24 * 3_600_000);
  await a.page.evaluate((offset) => localStorage.setItem('testWallOffsetMs', String(offset)), horizonMs + 60_000);
  expect(await a.page.evaluate(() => window.engram!.collectForgotten())).toBe(MEMORIES);
  expect(await heldRecords(a.page)).toBe(0);

  // A new tab adopts the closed tab's replica, with its 300 old, live copies.
  const reopened = await openNode(context, url);
  expect(reopened.id, 'the new tab runs as the closed tab’s replica').toBe(b.id);
  await seeBoth([a, reopened]);
  // Nothing comes back on the first tab at any moment, and the reopened tab drops its copies.
  const deadline = Date.now() + 30_000;
  for (;;) {
    expect(await liveCount(a.page), 'a forgotten memory came back on the tab that collected it').toBe(0);
    if ((await heldRecords(reopened.page)) === 0) break;
    if (Date.now() > deadline) throw new Error(`the reopened tab still holds ${await heldRecords(reopened.page)} records`);
    await a.page.waitForTimeout(100);
  }
  expect(await liveCount(reopened.page)).toBe(0);
  const [rootA, rootB] = await merkleRoots([a, reopened]);
  expect(rootA).toBe(rootB);
  const stats = await reopened.page.evaluate(() => window.engram!.stats().node);
  expect(stats.obsoleteDropped).toBe(MEMORIES);
  await context.close();
});
