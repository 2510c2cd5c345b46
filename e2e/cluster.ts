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

export async function waitForVisibility(node: BrowserNode, visible: number, total: number, timeout = 60_000): Promise<void> {
  await node.page.waitForFunction(
    ([v, t]) => {
      const vis = window.engram?.visibility();
      return vis !== undefined && vis.visible === v && vis.total === t;
    },
    [visible, total] as const,
    { timeout, polling: 100 },
  );
}

export async function merkleRoots(nodes: readonly BrowserNode[]): Promise<string[]> {
  return Promise.all(nodes.map((node) => node.page.evaluate(() => window.engram!.merkleRoot())));
}

export async function waitForConvergence(nodes: readonly BrowserNode[], timeout = 60_000, pollMs = 200): Promise<string> {
  const deadline = Date.now() + timeout;
  for (;;) {
    const roots = await merkleRoots(nodes);
    if (new Set(roots).size === 1) return roots[0] as string;
    if (Date.now() > deadline) throw new Error(`no convergence within ${timeout} ms: roots ${roots.join(', ')}`);
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
}
