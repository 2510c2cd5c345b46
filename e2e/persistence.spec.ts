/**
 * Memories outlive their tab, as a person lives with a browser: one persistent profile (not a
 * fresh context per test), tabs closed and opened again, the browser relaunched, and the browser
 * killed with SIGKILL right after `remember()` resolved. A new tab with no other tab of the room
 * open adopts the replica a closed tab left (src/store/replica-claim.ts) instead of starting as
 * an empty node beside a database nobody reads again.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, expect, test, type BrowserContext, type Page } from '@playwright/test';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from '../playwright.config.js';
import type { RunningServer } from '../signaling/server.js';
import { openNode, startEngramServer, waitForVisibility } from './cluster.js';

let server: RunningServer;
let profileDir: string;

test.beforeEach(async () => {
  server = await startEngramServer();
  profileDir = mkdtempSync(join(tmpdir(), 'engram-profile-'));
});

test.afterEach(async () => {
  await server.close();
  rmSync(profileDir, { recursive: true, force: true });
});

function launch(): Promise<BrowserContext> {
  return chromium.launchPersistentContext(profileDir, { executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS, headless: true });
}

const roomUrl = (room: string) => `${server.url}?room=${room}`;

async function write(page: Page, content: string): Promise<string> {
  return page.evaluate(async (text) => (await window.engram!.remember({ content: text, tags: ['kept'] })).id, content);
}

async function recalledIds(page: Page): Promise<string[]> {
  return page.evaluate(async () => (await window.engram!.recall({ tags: ['kept'], limit: 1_000 })).results.map((item) => item.id).sort());
}

/** This room's databases in the profile. */
async function databases(page: Page, room: string): Promise<string[]> {
  return page.evaluate(async (prefix) => (await indexedDB.databases()).flatMap((info) => (info.name?.startsWith(prefix) ? [info.name] : [])).sort(), `engram-${room}-`);
}

/** Kills every process of the browser running on `profileDir`, as a crash or a power cut of the app would. */
function killBrowser(): void {
  // The pattern starts with '--', so it goes after '--' lest pkill read it as an option.
  execFileSync('pkill', ['-KILL', '-f', '--', `--user-data-dir=${profileDir}`]);
}

test('a tab opened after the only tab closed, and after a browser relaunch, recalls what the closed tab wrote', async () => {
  const room = `keep-${Date.now()}`;
  let context = await launch();
  const first = await openNode(context, roomUrl(room));
  const written = await write(first.page, 'the spare key is under the blue pot');
  await first.page.close();

  const second = await openNode(context, roomUrl(room));
  expect(second.id).toBe(first.id);
  expect(await recalledIds(second.page)).toEqual([written]);
  await context.close();

  context = await launch();
  const third = await openNode(context, roomUrl(room));
  expect(third.id).toBe(first.id);
  expect(await recalledIds(third.page)).toEqual([written]);
  expect(await databases(third.page, room)).toEqual([`engram-${room}-${first.id}`]);
  await context.close();
});

test('a write acknowledged right before the browser is killed (SIGKILL) is there after the relaunch', async () => {
  const runs = Number(process.env.ENGRAM_KILL_RUNS ?? 3);
  const room = `kill-${Date.now()}`;
  const acknowledged: string[] = [];
  for (let run = 0; run < runs; run++) {
    const context = await launch();
    const node = await openNode(context, roomUrl(room));
    expect(await recalledIds(node.page), `run ${run}: after ${run} kills`).toEqual([...acknowledged].sort());
    acknowledged.push(await write(node.page, `written before kill ${run}`));
    killBrowser();
    await context.close().catch(() => undefined);
  }
  const context = await launch();
  const node = await openNode(context, roomUrl(room));
  expect(await recalledIds(node.page)).toEqual([...acknowledged].sort());
  await context.close();
});

test('two tabs open at once run as two nodes and both see a memory the closed tab left', async () => {
  const room = `two-${Date.now()}`;
  const context = await launch();
  const first = await openNode(context, roomUrl(room));
  const written = await write(first.page, 'left by a closed tab');
  await first.page.close();
  const [a, b] = [await openNode(context, roomUrl(room)), await openNode(context, roomUrl(room))];
  expect(a.id).not.toBe(b.id);
  expect([a.id, b.id]).toContain(first.id);
  await waitForVisibility(a, 2, 2);
  for (const node of [a, b]) await expect.poll(() => recalledIds(node.page), { timeout: 15_000 }).toEqual([written]);
  await context.close();
});

test('15 open-write-close cycles leave at most 3 node ids and 3 databases, and a fresh tab recalls all 15 memories', async () => {
  const room = `cycles-${Date.now()}`;
  const context = await launch();
  const ids = new Set<string>();
  const written: string[] = [];
  for (let cycle = 0; cycle < 15; cycle++) {
    const node = await openNode(context, roomUrl(room));
    ids.add(node.id);
    written.push(await write(node.page, `cycle ${cycle}`));
    await node.page.close();
  }
  const fresh = await openNode(context, roomUrl(room));
  ids.add(fresh.id);
  expect(ids.size).toBeLessThanOrEqual(3);
  expect((await databases(fresh.page, room)).length).toBeLessThanOrEqual(3);
  expect(await recalledIds(fresh.page)).toEqual([...written].sort());
  await context.close();
});
