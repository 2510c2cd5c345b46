/**
 * Helpers for browser tests of a live cluster: a signaling server in the test process, pages
 * that are nodes, and waits on what `window.engram` reports.
 */
import type { Browser, BrowserContext, Page } from '@playwright/test';
import { startServer, type RunningServer } from '../signaling/server.js';

export const quietLog = { info: () => undefined, warn: () => undefined };

export async function startEngramServer(port = 0): Promise<RunningServer> {
  return startServer({ port, host: '127.0.0.1', log: quietLog });
}

export interface BrowserNode {
  readonly page: Page;
  readonly id: string;
}

/** Opens a tab on the room and waits until its node runs. */
export async function openNode(context: BrowserContext, url: string): Promise<BrowserNode> {
  const page = await context.newPage();
  page.on('pageerror', (error) => console.error(`[page error] ${error.message}`));
  await page.goto(url);
  await page.waitForFunction(() => document.documentElement.dataset.engramReady !== undefined, undefined, { timeout: 30_000 });
  const error = await page.evaluate(() => window.engramError);
  if (error) throw new Error(`node failed to start: ${error}`);
  const id = await page.evaluate(() => window.engram!.id);
  return { page, id };
}

export async function openCluster(browser: Browser, url: string, size: number): Promise<{ context: BrowserContext; nodes: BrowserNode[] }> {
  const context = await browser.newContext();
  const nodes: BrowserNode[] = [];
  for (let i = 0; i < size; i++) nodes.push(await openNode(context, url));
  return { context, nodes };
}

// The waits are the package's (engram-mesh/testing), so the repository's tests and users' tests wait alike.
export { merkleRoots, waitForConvergence, waitForVisibility } from '../src/testing/engram-page.js';
