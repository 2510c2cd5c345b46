/**
 * Renders the UI preview (ui-preview.html: the console on a fake partitioned cluster) in headless
 * Chromium and writes docs/ui-preview.png, so a change to the UI can be looked at without
 * starting a cluster.
 *
 *   npx tsx scripts/ui-screenshot.ts [--out docs/ui-preview.png] [--width 1400] [--height 1000] [--chromium-cli]
 *
 * Serves the repository with Vite's dev server on a free port. Uses playwright-core when it is
 * installed (it waits for the preview to say it has settled); otherwise, or with --chromium-cli,
 * Chromium's own --screenshot flag with a virtual-time budget long enough for the preview's animation.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createServer } from 'vite';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const CHROMIUM_CANDIDATES = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'];
/** The preview's heal animation takes ~1.5 s; the budget leaves room for module loading. */
const VIRTUAL_TIME_BUDGET_MS = 6_000;
const PAGE_TIMEOUT_MS = 30_000;

/** The little of playwright-core this script uses; declared here so it typechecks without the package. */
interface PlaywrightPage {
  goto(url: string): Promise<unknown>;
  waitForSelector(selector: string, options: { timeout: number }): Promise<unknown>;
  screenshot(options: { path: string }): Promise<unknown>;
  on(event: 'console', listener: (message: { type(): string; text(): string }) => void): void;
}
interface PlaywrightModule {
  chromium: {
    launch(options: { executablePath: string; args: string[] }): Promise<{
      newPage(options: { viewport: { width: number; height: number } }): Promise<PlaywrightPage>;
      close(): Promise<void>;
    }>;
  };
}

function findChromium(): string {
  const found = CHROMIUM_CANDIDATES.find((path) => existsSync(path));
  if (!found) throw new Error(`no Chromium found (looked for ${CHROMIUM_CANDIDATES.join(', ')})`);
  return found;
}

async function loadPlaywright(): Promise<PlaywrightModule | undefined> {
  const require = createRequire(import.meta.url);
  try {
    require.resolve('playwright-core');
  } catch {
    return undefined;
  }
  const moduleName = 'playwright-core';
  return (await import(moduleName)) as PlaywrightModule;
}

async function withPlaywright(playwright: PlaywrightModule, chromiumPath: string, url: string, outPath: string, width: number, height: number): Promise<void> {
  const browser = await playwright.chromium.launch({ executablePath: chromiumPath, args: ['--no-sandbox'] });
  try {
    const page = await browser.newPage({ viewport: { width, height } });
    page.on('console', (message) => {
      if (message.type() === 'error' || message.type() === 'warning') console.error(`page: ${message.text()}`);
    });
    await page.goto(url);
    await page.waitForSelector('html[data-preview-ready]', { timeout: PAGE_TIMEOUT_MS });
    await page.screenshot({ path: outPath });
  } finally {
    await browser.close();
  }
}

function withChromiumCli(chromiumPath: string, url: string, outPath: string, width: number, height: number): Promise<void> {
  const args = [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--hide-scrollbars',
    `--window-size=${width},${height}`,
    `--virtual-time-budget=${VIRTUAL_TIME_BUDGET_MS}`,
    `--screenshot=${outPath}`,
    url,
  ];
  return new Promise((resolvePromise, reject) => {
    const child = spawn(chromiumPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), PAGE_TIMEOUT_MS);
    child.on('error', reject);
    child.on('exit', (code) => {
      clearTimeout(timer);
      if (code === 0 && existsSync(outPath)) resolvePromise();
      else reject(new Error(`chromium exited with ${code}:\n${stderr.slice(-2000)}`));
    });
  });
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      out: { type: 'string', default: 'docs/ui-preview.png' },
      width: { type: 'string', default: '1400' },
      height: { type: 'string', default: '1000' },
      'chromium-cli': { type: 'boolean', default: false },
    },
  });
  const outPath = resolve(repoRoot, values.out);
  const width = Number(values.width);
  const height = Number(values.height);
  if (!(width > 0 && height > 0)) throw new Error('--width and --height must be positive numbers');
  await mkdir(dirname(outPath), { recursive: true });
  const chromiumPath = findChromium();

  // configFile: false — the preview needs nothing from the app's vite.config.ts, and must not depend on it.
  const server = await createServer({
    root: repoRoot,
    configFile: false,
    logLevel: 'warn',
    server: { host: '127.0.0.1', port: 0, hmr: false },
  });
  await server.listen();
  try {
    const base = server.resolvedUrls?.local[0];
    if (!base) throw new Error('Vite did not report a local URL');
    const url = new URL('ui-preview.html', base).href;
    const playwright = values['chromium-cli'] ? undefined : await loadPlaywright();
    if (playwright) await withPlaywright(playwright, chromiumPath, url, outPath, width, height);
    else await withChromiumCli(chromiumPath, url, outPath, width, height);
    console.log(`wrote ${outPath} (${width}x${height}, ${playwright ? 'playwright-core' : 'chromium --screenshot'})`);
  } finally {
    await server.close();
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
