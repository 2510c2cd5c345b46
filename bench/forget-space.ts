/**
 * `npx tsx bench/forget-space.ts [--memories 10000] [--rounds 3] [--quick] [--out docs/forget-space.json]`
 * — does forgetting free space (issue 9)? One headless Chromium tab of the app, alone in its room,
 * on a persistent profile (an off-the-record context keeps IndexedDB in memory):
 *
 * 1. warm-up: 2,000 memories remembered, forgotten and collected, so the baseline holds the code
 *    those paths compile to (V8 keeps it while the page lives; it is not the store's data);
 * 2. baseline: navigator.storage.estimate().usage, the IndexedDB directory's bytes on disk, and
 *    the used heap after three forced GCs (CDP);
 * 3. each round: N memories (~200 bytes, 3 tags) remembered through the handle, all N forgotten,
 *    then the tab's wall clock moved past the tombstone horizon (an init script adds an offset to
 *    Date.now, the node's wall clock, so the product's own horizon of a day is what runs) and
 *    collectForgotten() called until no tombstone is left; figures after each step;
 * 4. the tab reloads; the figures a last time, and what the store still holds.
 *
 * The bar: after collection, usage and heap within 10% of the baseline.
 */
import { cpus, loadavg, totalmem } from 'node:os';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { chromium, type Page } from '@playwright/test';
import { serveApp } from './app-server.js';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from '../src/testing/chromium.js';

const { values } = parseArgs({
  options: {
    memories: { type: 'string', default: '10000' },
    out: { type: 'string', default: 'docs/forget-space.json' },
    rounds: { type: 'string', default: '3' },
    quick: { type: 'boolean', default: false },
    'no-build': { type: 'boolean', default: false },
  },
});
const N = values.quick ? 1_000 : Number(values.memories);
if (!(Number.isInteger(N) && N > 0)) throw new RangeError(`--memories must be a positive integer, got ${values.memories}`);
const TOLERANCE = 0.1;
/** Memories of the warm-up cycle: enough for V8 to optimise the write, forget and collection paths. */
const WARM_UP = 2_000;

const log = (line: string) => process.stderr.write(`[forget-space] ${line}\n`);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Date.now plus an offset the bench sets (sessionStorage, so it survives the reload). */
const CLOCK_SCRIPT = `(() => {
  const real = Date.now.bind(Date);
  Date.now = () => real() + Number(sessionStorage.getItem('benchWallOffsetMs') ?? 0);
})();`;

async function evaluate<T>(page: Page, expression: string): Promise<T> {
  // Strings, not functions: tsx would wrap closures in a helper the page does not have.
  return page.evaluate(expression) as Promise<T>;
}

async function ready(page: Page): Promise<void> {
  const started = Date.now();
  while (Date.now() - started < 30_000) {
    const state = await evaluate<string | undefined>(page, 'document.documentElement.dataset.engramReady');
    if (state === 'true') return;
    if (state === 'error') throw new Error(`the app failed to start: ${await evaluate<string>(page, 'window.engramError')}`);
    await sleep(50);
  }
  throw new Error('the app did not start within 30 s');
}

interface Figures {
  /** navigator.storage.estimate().usage: what the browser charges the origin. */
  readonly usageBytes: number;
  /** The origin's IndexedDB directory on disk (LevelDB files). */
  readonly diskBytes: number;
  /** Used JS heap after three forced GCs. */
  readonly heapBytes: number;
  readonly records: number;
  readonly tombstones: number;
}

async function figures(page: Page, profile: string): Promise<Figures> {
  const session = await page.context().newCDPSession(page);
  try {
    for (let i = 0; i < 3; i++) await session.send('HeapProfiler.collectGarbage');
    const { usedSize } = (await session.send('Runtime.getHeapUsage')) as { usedSize: number };
    const measured = await evaluate<{ usage: number; records: number; tombstones: number }>(
      page,
      `(async () => {
        const { usage } = await navigator.storage.estimate();
        return { usage: usage ?? 0, records: window.engram.snapshot().records.length, tombstones: window.engram.forgetting().tombstones };
      })()`,
    );
    const diskBytes = Number(execFileSync('du', ['-sb', join(profile, 'Default', 'IndexedDB')], { encoding: 'utf8' }).split('\t')[0]);
    return { usageBytes: measured.usage, diskBytes, heapBytes: usedSize, records: measured.records, tombstones: measured.tombstones };
  } finally {
    await session.detach();
  }
}

const WORDS = ['garden', 'tomato', 'recipe', 'meeting', 'project', 'deadline', 'travel', 'berlin', 'coffee', 'budget', 'music', 'guitar', 'lesson', 'doctor', 'birthday', 'library', 'novel', 'train'];

/** Remembers `count` memories through the handle, in batches of 500; returns their ids. */
async function rememberMany(page: Page, count: number, round: number): Promise<string[]> {
  return evaluate<string[]>(
    page,
    `(async () => {
      const words = ${JSON.stringify(WORDS)};
      const ids = [];
      for (let start = 0; start < ${count}; start += 500) {
        const batch = [];
        for (let i = start; i < Math.min(${count}, start + 500); i++) {
          let content = 'r${round} ';
          while (content.length < 190) content += words[(i * 7 + content.length) % words.length] + i + ' ';
          batch.push(window.engram.remember({ content, tags: [words[i % 18], words[(i >> 3) % 18], 'n' + (i % 50)] }).then((r) => r.id));
        }
        ids.push(...(await Promise.all(batch)));
      }
      return ids;
    })()`,
  );
}

async function forgetAll(page: Page, ids: readonly string[]): Promise<void> {
  await page.evaluate(
    `(async (ids) => { for (let start = 0; start < ids.length; start += 500) await Promise.all(ids.slice(start, start + 500).map((id) => window.engram.forget(id))); })(${JSON.stringify(ids)})`,
  );
}

/** Moves the tab's wall clock one horizon (and a minute) further, and collects until no tombstone is left; returns the sweeps it took. */
async function passHorizonAndCollect(page: Page, round: number): Promise<number> {
  const horizonMs = await evaluate<number>(page, 'window.engram.forgetting().horizonMs');
  await evaluate(page, `sessionStorage.setItem('benchWallOffsetMs', String(${(horizonMs + 60_000) * round}))`);
  let sweeps = 0;
  while ((await evaluate<number>(page, 'window.engram.forgetting().tombstones')) > 0 && sweeps < 100) {
    await evaluate(page, 'window.engram.collectForgotten()');
    sweeps += 1;
  }
  // The deletions trigger the record log's compaction in the background; let it finish.
  await sleep(3_000);
  return sweeps;
}

async function measure(baseUrl: string, rounds: number): Promise<Record<string, unknown>> {
  // A persistent profile, as a person's browser has: an off-the-record context keeps IndexedDB in memory.
  const profile = mkdtempSync(join(tmpdir(), 'engram-forget-space-'));
  const context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS, headless: true });
  try {
    await context.addInitScript({ content: CLOCK_SCRIPT });
    const page = context.pages()[0] ?? (await context.newPage());
    await page.goto(`${baseUrl}?room=forget-space-${Date.now()}`);
    await ready(page);
    const take = (label: string) => figures(page, profile).then((f) => (log(`${label}: ${JSON.stringify(f)}`), f));
    // Warm-up: one small cycle, so the baseline already holds the code a write, a forget and a
    // collection compile to (V8 keeps it while the page lives; it is not the store's data).
    await forgetAll(page, await rememberMany(page, WARM_UP, 0));
    let clockRound = 1;
    await passHorizonAndCollect(page, clockRound++);
    const baseline = await take('baseline');
    const rows = [];
    for (let round = 1; round <= rounds; round++) {
      const started = Date.now();
      const ids = await rememberMany(page, N, round);
      const rememberMs = Date.now() - started;
      const remembered = await take(`round ${round}: ${N} remembered`);
      const forgetStarted = Date.now();
      await forgetAll(page, ids);
      const forgetMs = Date.now() - forgetStarted;
      const forgotten = await take(`round ${round}: forgotten`);
      const sweeps = await passHorizonAndCollect(page, clockRound++);
      const collected = await take(`round ${round}: collected`);
      rows.push({ round, remembered, forgotten, collected, ms: { remember: rememberMs, forget: forgetMs }, sweeps });
    }
    await page.reload();
    await ready(page);
    await sleep(1_000);
    const reloaded = await take('after reload');
    // Every tab of the origin closed for a while: Chromium compacts an origin's LevelDB when its
    // last connection closes (after a grace period), not while a tab holds it open.
    const url = page.url();
    await page.goto('about:blank');
    await sleep(10_000);
    await page.goto(url);
    await ready(page);
    await sleep(1_000);
    const reopened = await take('closed 10 s, then reopened');
    const last = rows[rows.length - 1]!.collected;
    const ratio = (value: number, base: number) => Math.round((value / base) * 1000) / 1000;
    return {
      memories: N,
      rounds,
      horizonMs: await evaluate<number>(page, 'window.engram.forgetting().horizonMs'),
      baseline,
      rows,
      reloaded,
      reopened,
      ratiosToBaseline: {
        heapCollected: ratio(last.heapBytes, baseline.heapBytes),
        heapReloaded: ratio(reloaded.heapBytes, baseline.heapBytes),
        usageCollected: ratio(last.usageBytes, baseline.usageBytes),
        diskCollected: ratio(last.diskBytes, baseline.diskBytes),
        usageReopened: ratio(reopened.usageBytes, baseline.usageBytes),
        diskReopened: ratio(reopened.diskBytes, baseline.diskBytes),
      },
      targetsMet: {
        heapWithin10Percent: last.heapBytes <= baseline.heapBytes * (1 + TOLERANCE),
        usageWithin10Percent: last.usageBytes <= baseline.usageBytes * (1 + TOLERANCE),
        nothingLeftAfterReload: reloaded.records === 0 && reloaded.tombstones === 0,
      },
    };
  } finally {
    await context.close();
    rmSync(profile, { recursive: true, force: true });
  }
}

const server = await serveApp({ build: !values['no-build'], log });
try {
  const ranAt = new Date().toISOString();
  const loadBefore = loadavg();
  const result = await measure(server.url, values.quick ? 1 : Number(values.rounds));
  const report = {
    what: 'bench/forget-space.ts: one headless Chromium tab remembers N memories, forgets them all, passes the tombstone horizon and collects; IndexedDB usage and heap against the empty tab',
    ranAt,
    machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model ?? 'unknown', memoryGiB: Math.round(totalmem() / 2 ** 30), chromium: CHROMIUM_PATH },
    loadAverage: { start: loadBefore.map((x) => Math.round(x * 100) / 100), end: loadavg().map((x) => Math.round(x * 100) / 100) },
    ...result,
  };
  writeFileSync(values.out, `${JSON.stringify(report, null, 2)}\n`);
  log(`wrote ${values.out}`);
} finally {
  await server.close();
}
