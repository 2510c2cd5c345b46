/**
 * Tabs as people leave them: one visible, the rest genuinely hidden in the background, with the
 * timer throttling Chromium applies to them (chained timers fire on 1 s wake-ups), and tabs
 * frozen and resumed as Energy Saver and mobile Chromium do.
 *
 * Playwright's own launch() passes --disable-background-timer-throttling and friends, and its
 * pages emulate focus, so a page it opens is never really hidden. Here Chromium is started
 * without those flags, attached over CDP with `noDefaults` (no emulation), and the hidden tabs
 * are created as background targets of one window (`Target.createTarget {background: true}`),
 * where they report `visibilityState === 'hidden'` and are throttled. `timerChainMs` measures
 * the throttling, so a test can verify it is in the setting it claims.
 */
import { chromium, type Browser, type BrowserContext, type CDPSession, type Page } from '@playwright/test';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from './chromium.js';

/** The flags that would make a hidden tab behave like a visible one; never passed here. */
const ANTI_THROTTLING_FLAGS = ['--disable-background-timer-throttling', '--disable-renderer-backgrounding', '--disable-backgrounding-occluded-windows'];

export interface HiddenTabsOptions {
  /** The page every tab opens. */
  readonly url: string;
  /** Tabs in all: the first is visible (the window's active tab), the others hidden. */
  readonly tabs: number;
  /** Open every tab as the active tab of its own window instead (the all-visible baseline). */
  readonly allVisible?: boolean;
  readonly chromiumPath?: string;
  readonly chromiumArgs?: readonly string[];
}

export interface HiddenTab {
  readonly index: number;
  readonly page: Page;
  /** Whether the tab was opened in the background. */
  readonly hidden: boolean;
}

/** The Chromium process and its tabs; close() ends the process and deletes its profile. */
export class HiddenTabsBrowser {
  private constructor(
    private readonly process: ChildProcess,
    private readonly profileDir: string,
    readonly browser: Browser,
    readonly context: BrowserContext,
    private readonly browserSession: CDPSession,
    readonly tabs: HiddenTab[],
  ) {}

  /** Starts Chromium and opens the tabs (each navigated to `url`; not waited on beyond `load`). */
  static async open(options: HiddenTabsOptions): Promise<HiddenTabsBrowser> {
    if (options.tabs < 1) throw new RangeError('at least one tab is needed');
    const extra = options.chromiumArgs ?? [];
    const forbidden = extra.filter((flag) => ANTI_THROTTLING_FLAGS.some((name) => flag.startsWith(name)));
    if (forbidden.length > 0) throw new RangeError(`hidden tabs must be throttled; drop ${forbidden.join(', ')}`);
    const profileDir = mkdtempSync(join(tmpdir(), 'engram-hidden-'));
    const child = spawn(
      options.chromiumPath ?? CHROMIUM_PATH,
      [...CHROMIUM_ARGS, ...extra, '--headless', '--remote-debugging-port=0', `--user-data-dir=${profileDir}`, 'about:blank'],
      // Its own process group, so close() ends the helper processes (zygote, renderers) with it.
      { stdio: ['ignore', 'ignore', 'pipe'], detached: true },
    );
    try {
      const endpoint = await devToolsUrl(child);
      const browser = await chromium.connectOverCDP(endpoint, { noDefaults: true });
      const context = browser.contexts()[0];
      if (!context) throw new Error('Chromium came up with no browser context');
      const session = await browser.newBrowserCDPSession();
      const tabs: HiddenTab[] = [];
      const first = context.pages()[0] ?? (await context.newPage());
      await first.goto(options.url);
      tabs.push({ index: 0, page: first, hidden: false });
      for (let index = 1; index < options.tabs; index++) {
        const hidden = options.allVisible !== true;
        const page = await openTarget(context, session, options.url, hidden);
        tabs.push({ index, page, hidden });
      }
      return new HiddenTabsBrowser(child, profileDir, browser, context, session, tabs);
    } catch (error) {
      await endProcessGroup(child);
      rmSync(profileDir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
      throw error;
    }
  }

  /** Opens one more tab on `url` (hidden unless said otherwise), e.g. to replace a crashed one. */
  async openTab(url: string, hidden = true): Promise<HiddenTab> {
    const page = await openTarget(this.context, this.browserSession, url, hidden);
    const tab = { index: this.tabs.length, page, hidden };
    this.tabs.push(tab);
    return tab;
  }

  /**
   * Freezes a tab as Chromium's page lifecycle does (Energy Saver, mobile): the page gets a
   * `freeze` event, then its timers and network handlers stop until resume().
   */
  async freeze(page: Page): Promise<void> {
    const session = await this.context.newCDPSession(page);
    await session.send('Page.enable');
    await session.send('Page.setWebLifecycleState', { state: 'frozen' });
    await session.detach();
  }

  /** Wakes a frozen tab: it gets a `resume` event and runs again. */
  async resume(page: Page): Promise<void> {
    const session = await this.context.newCDPSession(page);
    await session.send('Page.enable');
    await session.send('Page.setWebLifecycleState', { state: 'active' });
    await session.detach();
  }

  async close(): Promise<void> {
    // Over CDP, Playwright's close() only disconnects: ask Chromium itself to quit.
    await this.browserSession.send('Browser.close').catch(() => undefined);
    await this.browser.close().catch(() => undefined);
    await endProcessGroup(this.process);
    rmSync(this.profileDir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
  }
}

/** Waits up to 5 s for Chromium to exit, then kills its whole process group. */
async function endProcessGroup(child: ChildProcess): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) {
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
  }
  // Helpers left behind by a killed browser would keep writing the profile being deleted.
  try {
    if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
  } catch {
    // The group is already gone.
  }
}

async function openTarget(context: BrowserContext, session: CDPSession, url: string, background: boolean): Promise<Page> {
  const opened = context.waitForEvent('page', { timeout: 30_000 });
  await session.send('Target.createTarget', background ? { url, newWindow: false, background: true } : { url, newWindow: true });
  const page = await opened;
  await page.waitForLoadState('load');
  return page;
}

function devToolsUrl(child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    let seen = '';
    const timer = setTimeout(() => reject(new Error(`Chromium printed no DevTools URL within 30 s:\n${seen.slice(-2000)}`)), 30_000);
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      seen += chunk;
      const match = /DevTools listening on (ws:\/\/\S+)/.exec(seen);
      if (match?.[1]) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`Chromium exited (${String(code)}) before printing its DevTools URL:\n${seen.slice(-2000)}`));
    });
  });
}

/** What a page reports of its own visibility and timer throttling. */
export interface TabThrottling {
  readonly visibilityState: DocumentVisibilityState;
  /** Wall time of `chain` chained 10 ms timers: about `chain` seconds when throttled, ~10 ms each when not. */
  readonly timerChainMs: number;
}

/**
 * Measures the page's throttling: runs `chain` chained 10 ms timers and reports how long they
 * took. A hidden, throttled Chromium tab runs each on the next 1 s wake-up (measured: a single
 * 20 ms timer took 0.79-1.0 s); zero-delay timers are not throttled, so they would show nothing.
 */
export async function measureThrottling(page: Page, chain = 8): Promise<TabThrottling> {
  // A string, not a function: tsx (the bench) would wrap named closures in a helper the page lacks.
  return page.evaluate(`new Promise((resolve) => {
    const startedMs = performance.now();
    let left = ${Math.max(1, Math.floor(chain))};
    const step = () => {
      if (--left <= 0) resolve({ visibilityState: document.visibilityState, timerChainMs: performance.now() - startedMs });
      else setTimeout(step, 10);
    };
    setTimeout(step, 10);
  })`) as Promise<TabThrottling>;
}

/**
 * Records, in the page, when each memory first arrives from a peer (epoch ms: performance.timeOrigin
 * + now, comparable across tabs of one machine). Read with `arrivalTimes`.
 */
export async function watchArrivals(page: Page): Promise<void> {
  await page.evaluate(`(() => {
    if (window.engramArrivals) return;
    const arrivals = (window.engramArrivals = {});
    window.engram.on('write', ({ id, local }) => {
      if (!local && arrivals[id] === undefined) arrivals[id] = performance.timeOrigin + performance.now();
    });
  })()`);
}

/** Arrival times (epoch ms) of the given memories in the page; undefined for one not arrived yet. */
export async function arrivalTimes(page: Page, ids: readonly string[]): Promise<(number | undefined)[]> {
  return page.evaluate(`(${JSON.stringify(ids)}).map((id) => (window.engramArrivals || {})[id])`) as Promise<(number | undefined)[]>;
}

/** Writes a memory in the page; resolves with its id and when the write was issued (epoch ms). */
export async function writeIn(page: Page, content: string): Promise<{ id: string; issuedAtMs: number }> {
  return page.evaluate(`(async () => {
    const issuedAtMs = performance.timeOrigin + performance.now();
    const { id } = await window.engram.remember({ content: ${JSON.stringify(content)} });
    return { id, issuedAtMs };
  })()`) as Promise<{ id: string; issuedAtMs: number }>;
}
