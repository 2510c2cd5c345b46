/**
 * The package as users get it: `npm pack`, the tarball installed into scratch projects outside
 * this repository, and nothing of the repository's source used from there on.
 *   1. A Vite app of its own (e2e/package-consumer: the README's "Embed it in your app" code)
 *      type-checks against the installed types, builds, is served by `engram-mesh/server`, and
 *      two Chromium tabs that call `openBrowserNode` see each other's memories.
 *   2. `npx engram-signaling --help` prints its usage.
 *   3. A second project partitions a two-tab cluster of that app with `engram-mesh/testing`
 *      (its own `npx playwright test`) and heals it.
 * The repository's Vite and TypeScript do the building and checking (as a devDependency would
 * in the user's project); the package and its dependencies come from the npm registry or cache.
 */
import { chromium, expect, test, type Browser } from '@playwright/test';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { build } from 'vite';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from '../playwright.config.js';

const run = promisify(execFile);
const repo = resolve(import.meta.dirname, '..');
const scratch = mkdtempSync(join(tmpdir(), 'engram-package-'));
const appDir = join(scratch, 'notes-app');
const partitionDir = join(scratch, 'partition-tests');
let tarball = '';

test.describe.configure({ mode: 'serial' });

test.afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** npm in a scratch project: quiet unless it fails, from the cache where it can. */
async function npm(cwd: string, args: string[]): Promise<string> {
  const { stdout } = await run('npm', [...args, '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error'], { cwd, maxBuffer: 16 << 20 });
  return stdout;
}

test.beforeAll(async () => {
  test.setTimeout(150_000);
  // prepack builds lib/ (npm run build:lib) first, as it would on publish.
  const packed = JSON.parse(await npm(repo, ['pack', '--json', '--pack-destination', scratch])) as { filename: string; size: number; entryCount: number; files: { path: string }[] }[];
  const entry = packed[0]!;
  tarball = join(scratch, entry.filename);
  console.log(`npm pack: ${entry.filename}, ${entry.size} bytes, ${entry.entryCount} files`);
  const outside = entry.files.map((file) => file.path).filter((path) => !path.startsWith('lib/') && !['package.json', 'README.md', 'LICENSE'].includes(path));
  expect(outside, 'the tarball holds only lib/, package.json, README.md and LICENSE').toEqual([]);
  expect(entry.files.some((file) => /\.(spec|test)\.[jt]s$/.test(file.path) || file.path.endsWith('.ts') && !file.path.endsWith('.d.ts')), 'no sources or tests').toBe(false);

  cpSync(join(repo, 'e2e/package-consumer'), appDir, { recursive: true });
  writeFileSync(join(appDir, 'package.json'), JSON.stringify({ name: 'notes-app', private: true, type: 'module' }, null, 2));
  cpSync(join(repo, 'e2e/package-partition'), partitionDir, { recursive: true });
  writeFileSync(join(partitionDir, 'package.json'), JSON.stringify({ name: 'notes-partition-tests', private: true, type: 'module' }, null, 2));
  const playwrightVersion = (await import('@playwright/test/package.json', { with: { type: 'json' } })).default.version;
  await Promise.all([npm(appDir, ['install', tarball]), npm(partitionDir, ['install', tarball, `@playwright/test@${playwrightVersion}`])]);
});

test('the installed package type-checks a consumer that imports openBrowserNode and startSignalingServer', async () => {
  // @types/node is the consumer's own devDependency; borrow this repository's.
  const result = await run(process.execPath, [join(repo, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json', '--typeRoots', join(repo, 'node_modules/@types')], { cwd: appDir }).catch(
    (error: { stdout?: string }) => ({ stdout: error.stdout ?? String(error) }),
  );
  expect(result.stdout).toBe('');
});

test('npx engram-signaling --help prints its usage', async () => {
  const { stdout } = await run('npx', ['--no-install', 'engram-signaling', '--help'], { cwd: appDir });
  expect(stdout).toMatch(/^usage: engram-signaling \[--port N\]/);
  expect(stdout).toContain('--allow-origin O');
});

test.describe('the built app', () => {
  let server: ChildProcess | undefined;
  let url = '';
  let browser: Browser | undefined;

  test.beforeAll(async () => {
    test.setTimeout(60_000);
    await build({ root: appDir, logLevel: 'warn', build: { outDir: 'dist', emptyOutDir: true } });
    // Its own server script, run by plain Node, which imports engram-mesh/server from node_modules.
    server = spawn(process.execPath, ['serve.mjs'], { cwd: appDir, env: { ...process.env, PORT: '0' }, stdio: ['ignore', 'pipe', 'inherit'] });
    url = await new Promise<string>((resolveUrl, reject) => {
      let output = '';
      server!.stdout!.on('data', (chunk: Buffer) => {
        output += chunk.toString();
        const match = /serving (http:\/\/\S+)/.exec(output);
        if (match) resolveUrl(match[1]!);
      });
      server!.once('exit', (code) => reject(new Error(`serve.mjs exited with ${code}: ${output}`)));
    });
    browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS });
  });

  test.afterAll(async () => {
    await browser?.close();
    server?.kill('SIGTERM');
  });

  test('two tabs that call openBrowserNode see each other and a memory written in one is recalled in the other', async () => {
    const context = await browser!.newContext();
    const pages = await Promise.all([context.newPage(), context.newPage()]);
    for (const page of pages) {
      page.on('pageerror', (error) => console.error(`[page error] ${error.message}`));
      await page.goto(`${url}?room=package-test`);
    }
    const [first, second] = pages as [(typeof pages)[0], (typeof pages)[0]];
    for (const page of pages) await expect(page.locator('#status')).toHaveText(/: 2 of 2 members visible$/);
    // The UI entry rendered its gauge from the handle's visibility.
    await expect(first.locator('engram-visibility-gauge')).toContainText('2');

    const written = await first.evaluate(() => window.engram!.remember({ content: 'packed, installed, built and served', tags: ['package'] }));
    // Polled from the test: an async predicate in waitForFunction returns a promise, which is
    // truthy at once, so it would not wait for the replica at all.
    await expect
      .poll(async () => (await second.evaluate(() => window.engram!.recall({ tags: ['package'] }))).results.map((result) => [result.id, result.content]), { timeout: 15_000 })
      .toEqual([[written.id, 'packed, installed, built and served']]);
    const ids = await Promise.all(pages.map((page) => page.evaluate(() => window.engram!.id)));
    expect(new Set(ids).size).toBe(2);
    await context.close();
  });

  test('a second project partitions a two-tab cluster of the app with engram-mesh/testing and heals it', async () => {
    test.setTimeout(150_000);
    const result = await run('npx', ['--no-install', 'playwright', 'test'], {
      cwd: partitionDir,
      env: { ...process.env, APP_DIR: join(appDir, 'dist'), CI: '1' },
      maxBuffer: 16 << 20,
    }).catch((error: { stdout?: string; stderr?: string }) => ({ stdout: `${error.stdout ?? ''}${error.stderr ?? String(error)}`, failed: true }));
    console.log(result.stdout);
    expect(result.stdout).toMatch(/1 passed/);
    expect(result.stdout).toMatch(/partition mode: (hard|soft)/);
  });
});
