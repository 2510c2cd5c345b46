/**
 * Firefox tabs next to Chromium ones. Playwright cannot drive stock Firefox (its BiDi Firefox
 * fails at `newContext` with `emulation.setMediaFeaturesOverride: unknown command`), so Debian's
 * firefox-esr is driven by puppeteer-core over WebDriver BiDi, and both engines' pages are seen
 * through one small `Tab` (an id and an evaluate) so a test reads the same whichever engine a tab
 * runs in. Used by e2e/firefox.spec.ts and bench/firefox-hidden.ts.
 */
import puppeteer, { type Browser as FirefoxBrowser, type Page as FirefoxPage } from 'puppeteer-core';
import type { BrowserNode } from './cluster.js';

export const FIREFOX_PATH = process.env.FIREFOX_PATH ?? '/usr/bin/firefox-esr';

/**
 * Host ICE candidates as real addresses: Firefox hides them behind mDNS names by default, which
 * nobody here resolves (Chromium's `--disable-features=WebRtcHideLocalIpsWithMdns`). A link to a
 * Chromium tab forms even without it (checked: the Chromium side's real candidates suffice), but
 * two Firefox tabs would each offer only names.
 */
export const FIREFOX_PREFS: Record<string, unknown> = { 'media.peerconnection.ice.obfuscate_host_addresses': false };

export function launchFirefox(): Promise<FirefoxBrowser> {
  return puppeteer.launch({ browser: 'firefox', executablePath: FIREFOX_PATH, extraPrefsFirefox: FIREFOX_PREFS, headless: true });
}

/** A tab running an Engram node, whichever engine it is in. */
export interface Tab {
  /** For messages: 'firefox', 'chromium-1', … */
  readonly label: string;
  readonly id: string;
  /** Runs `fn(arg)` in the page; `fn` must not name inner functions (tsx would wrap them in a helper the page lacks). */
  evaluate<A, R>(fn: (arg: A) => R | Promise<R>, arg: A): Promise<R>;
}

export function chromiumTab(node: BrowserNode, label: string): Tab {
  // Our arguments are plain JSON values, which Playwright passes through unchanged (no handles to unbox).
  return { label, id: node.id, evaluate: <A, R>(fn: (arg: A) => R | Promise<R>, arg: A) => node.page.evaluate(fn as (arg: unknown) => R | Promise<R>, arg as unknown) };
}

export interface FirefoxTab extends Tab {
  readonly page: FirefoxPage;
}

/** Opens `url` in a new tab of `browser` (or in `page`) and waits until its node runs. */
export async function openFirefoxTab(browser: FirefoxBrowser, url: string, label = 'firefox', page?: FirefoxPage): Promise<FirefoxTab> {
  const tabPage = page ?? (await browser.newPage());
  tabPage.on('pageerror', (error) => console.error(`[${label} page error] ${String(error)}`));
  await tabPage.goto(url);
  await tabPage.waitForFunction(() => document.documentElement.dataset.engramReady !== undefined, { timeout: 30_000, polling: 100 });
  const error = await tabPage.evaluate(() => window.engramError);
  if (error) throw new Error(`${label}: node failed to start: ${error}`);
  const id = await tabPage.evaluate(() => window.engram!.id);
  const evaluate = <A, R>(fn: (arg: A) => R | Promise<R>, arg: A): Promise<R> =>
    // puppeteer's evaluate types its function by its parameters; ours takes exactly one.
    tabPage.evaluate(fn as (arg: unknown) => Promise<R>, arg) as Promise<R>;
  return { label, id, page: tabPage, evaluate };
}

/** Polls `predicate(arg)` in the tab (from Node, so a throttled hidden page is not asked to run timers) until it holds. */
export async function waitUntil<A>(tab: Tab, what: string, predicate: (arg: A) => boolean | Promise<boolean>, arg: A, timeoutMs = 60_000, pollMs = 100): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await tab.evaluate(predicate, arg))) {
    if (Date.now() > deadline) throw new Error(`${tab.label}: ${what} not within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
}

export function waitForVisible(tab: Tab, visible: number, total: number, timeoutMs = 60_000): Promise<void> {
  return waitUntil(
    tab,
    `visibility ${visible}/${total}`,
    ([v, t]) => {
      const seen = window.engram?.visibility();
      return seen !== undefined && seen.visible === v && seen.total === t;
    },
    [visible, total] as const,
    timeoutMs,
  );
}

/** Resolves with the common Merkle root once every tab has the same one; rejects after `timeoutMs`. */
export async function waitForEqualRoots(tabs: readonly Tab[], timeoutMs = 60_000, pollMs = 50): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const roots = await Promise.all(tabs.map((tab) => tab.evaluate(() => window.engram!.merkleRoot(), undefined)));
    if (new Set(roots).size === 1) return roots[0] as string;
    if (Date.now() > deadline) throw new Error(`no equal Merkle roots within ${timeoutMs} ms: ${tabs.map((tab, i) => `${tab.label} ${roots[i]}`).join(', ')}`);
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
}

/** Writes `count` memories tagged `tag` with 32 in flight; the acknowledged ids. */
export function writeMany(tab: Tab, count: number, tag: string): Promise<string[]> {
  return tab.evaluate(
    async ([total, label]) => {
      const ids: string[] = [];
      let next = 0;
      await Promise.all(
        Array.from({ length: 32 }, async () => {
          while (next < total) {
            const k = next++;
            ids.push((await window.engram!.remember({ content: `${label} record ${k}`, tags: [label] })).id);
          }
        }),
      );
      return ids;
    },
    [count, tag] as const,
  );
}

/** How many live memories tagged `tag` the tab's recall counts. */
export function recalledWithTag(tab: Tab, tag: string): Promise<number> {
  return tab.evaluate(async (label) => (await window.engram!.recall({ tags: [label], limit: 0 })).matched, tag);
}

/** The ids among `ids` that the tab does not hold. */
export function missingOn(tab: Tab, ids: readonly string[]): Promise<string[]> {
  return tab.evaluate(async (wanted) => {
    const missing: string[] = [];
    for (const id of wanted) if ((await window.engram!.get(id)) === undefined) missing.push(id);
    return missing;
  }, ids);
}

/** Soft partition (messages dropped inside each node's transport): `a` and `b` stop hearing each other. */
export async function splitSoft(a: readonly Tab[], b: readonly Tab[]): Promise<void> {
  for (const tab of a) await tab.evaluate((ids) => window.engram!.faults.block(ids), b.map((other) => other.id));
  for (const tab of b) await tab.evaluate((ids) => window.engram!.faults.block(ids), a.map((other) => other.id));
}

export async function healSoft(tabs: readonly Tab[]): Promise<void> {
  await Promise.all(tabs.map((tab) => tab.evaluate(() => window.engram!.faults.heal(), undefined)));
}

/** Each of the tab's links to the others, by state: authenticated links are 'open'. */
export function linkStates(tab: Tab): Promise<string[]> {
  return tab.evaluate(() => window.engram!.links().map((link) => link.state).sort(), undefined);
}
