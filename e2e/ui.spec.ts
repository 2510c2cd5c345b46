/**
 * The console as a person uses it, in real tabs of the built app: editing and forgetting from
 * the UI, the reason a tab with the wrong secret is alone, opening with the server down (the
 * service worker's cache), and an automated accessibility check (axe-core).
 */
import { createRequire } from 'node:module';
import { expect, test, type Page } from '@playwright/test';
import { openCluster, openNode, startEngramServer, waitForVisibility } from './cluster.js';

const require = createRequire(import.meta.url);
const AXE_PATH = require.resolve('axe-core/axe.min.js');

interface AxeViolation {
  readonly id: string;
  readonly impact: string | null;
  readonly help: string;
  readonly nodes: readonly { target: unknown }[];
}

/** axe-core's violations of impact serious or critical on the page as it is now (shadow roots included). */
export async function seriousAccessibilityViolations(page: Page): Promise<string[]> {
  await page.addScriptTag({ path: AXE_PATH });
  const violations = await page.evaluate(async () => {
    const axe = (window as unknown as { axe: { run(context: Document, options: object): Promise<{ violations: AxeViolation[] }> } }).axe;
    const result = await axe.run(document, { resultTypes: ['violations'] });
    return result.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => ({ target: n.target })) }));
  });
  return violations
    .filter((violation) => violation.impact === 'serious' || violation.impact === 'critical')
    .map((violation) => `${violation.impact} ${violation.id}: ${violation.help} at ${JSON.stringify(violation.nodes.slice(0, 3).map((node) => node.target))}`);
}

async function rememberThroughForm(page: Page, content: string): Promise<void> {
  await page.locator('engram-remember-form textarea[name="content"]').fill(content);
  await page.locator('engram-remember-form button[type="submit"]').click();
  await expect(page.locator('[data-testid="remember-saved"]')).toBeVisible();
}

function resultItem(page: Page, text: string) {
  return page.locator('engram-recall-box li[data-memory]', { hasText: text });
}

test('editing from the UI writes a new version, the next write is a new memory, and forget reaches another tab', async ({ browser }) => {
  const server = await startEngramServer();
  const { context, nodes } = await openCluster(browser, `${server.url}?room=ui-edit-${Date.now()}`, 2);
  const [writer, reader] = [nodes[0]!, nodes[1]!];
  try {
    for (const node of nodes) await waitForVisibility(node, 2, 2);
    const page = writer.page;
    await rememberThroughForm(page, 'tomatoes need staking in june');
    const id = await resultItem(page, 'tomatoes need staking').getAttribute('data-memory');
    expect(id).not.toBeNull();

    await test.step('Edit shows "Editing <id>", saving writes a new version of that memory and leaves editing', async () => {
      await resultItem(page, 'tomatoes need staking').locator('button[data-action="edit"]').click();
      await expect(page.locator('[data-testid="remember-editing"]')).toContainText(`Editing ${id}`);
      await expect(page.locator('engram-remember-form textarea[name="content"]')).toHaveValue('tomatoes need staking in june');
      await page.locator('engram-remember-form textarea[name="content"]').fill('tomatoes need staking in july');
      await page.locator('engram-remember-form button[type="submit"]').click();
      await expect(page.locator('[data-testid="remember-saved"]')).toContainText(`Saved a new version of ${id}`);
      await expect(page.locator('[data-testid="remember-editing"]')).toHaveCount(0);
      const record = await page.evaluate((memory) => window.engram!.get(memory), id!);
      expect(record!.siblings.map((sibling) => sibling.content)).toEqual(['tomatoes need staking in july']);
    });

    const second = await test.step('the next write after an edit is a new memory, not a third version', async () => {
      await rememberThroughForm(page, 'basil likes full sun');
      await expect(page.locator('[data-testid="recall-summary"]')).toContainText('2 memories');
      const ids = await page.evaluate(async () => (await window.engram!.recall({})).results.map((item) => item.id).sort());
      expect(ids).toHaveLength(2);
      expect(ids).toContain(id);
      return ids.find((other) => other !== id)!;
    });

    await test.step('Forget in one tab removes the memory from the other, and Undo brings it back', async () => {
      await expect.poll(() => reader.page.evaluate((memory) => window.engram!.recall({}).then((r) => r.results.some((item) => item.id === memory)), second)).toBe(true);
      await resultItem(page, 'basil likes full sun').locator('button[data-action="forget"]').click();
      await expect(page.locator('[data-testid="forget-undo"]')).toContainText(`Forgot ${second}`);
      await expect(resultItem(page, 'basil likes full sun')).toHaveCount(0);
      await expect(resultItem(reader.page, 'basil likes full sun')).toHaveCount(0);
      const shown = await reader.page.evaluate((memory) => window.engram!.get(memory), second);
      expect(shown!.siblings.map((sibling) => sibling.deleted)).toEqual([true]);
      await page.locator('[data-testid="forget-undo"] button', { hasText: 'Undo' }).click();
      await expect(resultItem(reader.page, 'basil likes full sun')).toHaveCount(1);
    });

    await test.step('axe-core finds no serious or critical accessibility violation', async () => {
      expect(await seriousAccessibilityViolations(page)).toEqual([]);
    });
  } finally {
    await context.close();
    await server.close();
  }
});

test('a tab with the wrong room secret says why it is alone', async ({ browser }) => {
  const server = await startEngramServer();
  const room = `ui-secret-${Date.now()}`;
  const context = await browser.newContext();
  try {
    const insiders = [await openNode(context, `${server.url}?room=${room}#right-secret`), await openNode(context, `${server.url}?room=${room}#right-secret`)];
    for (const node of insiders) await waitForVisibility(node, 2, 2);
    const stranger = await openNode(context, `${server.url}?room=${room}#wrong-secret`);
    const line = stranger.page.locator('[data-status="peers-wrong-secret"]');
    await expect(line).toContainText('2 peers');
    await expect(line).toContainText('could not prove the same room secret');
    await expect(line).toContainText('this tab is alone');
    // The generic "only member so far" note would mislead: it is not shown beside the reason.
    await expect(stranger.page.locator('[data-status="alone"]')).toHaveCount(0);
    expect(await stranger.page.evaluate(() => window.engram!.members().length)).toBe(1);
    // Nor does its gauge read as a healthy 100%: it says alone, in red, and how many refused it.
    const gauge = stranger.page.locator('engram-visibility-gauge section');
    await expect(gauge).toHaveAttribute('data-tone', 'bad');
    await expect(stranger.page.locator('[data-testid="visibility-ratio"]')).toHaveText('alone');
    await expect(stranger.page.locator('[data-testid="visibility-refused"]')).toHaveText('2 peers');
    await expect(stranger.page.locator('[data-testid="visibility-explained"]')).toContainText('this tab is alone, because 2 peers in this room were refused (a different room secret)');
    // The insiders, linked to each other, still read as healthy.
    await expect(insiders[0]!.page.locator('engram-visibility-gauge section')).toHaveAttribute('data-tone', 'good');
  } finally {
    await context.close();
    await server.close();
  }
});

test('a message from a peer that cannot be decoded reaches the status area, not only the console', async ({ browser }) => {
  const server = await startEngramServer();
  const room = `ui-problem-${Date.now()}`;
  const { context, nodes } = await openCluster(browser, `${server.url}?room=${room}#garden`, 2);
  try {
    const [a, b] = nodes as [(typeof nodes)[0], (typeof nodes)[0]];
    for (const node of nodes) await waitForVisibility(node, 2, 2);
    // Bytes no version of the wire format reads, sent over b's real, authenticated link to a
    // (the transport is private to the handle; reached here only to play a broken peer).
    await b.page.evaluate((peer) => {
      const transport = (window.engram as unknown as { transport: { send(to: string, bytes: Uint8Array): void } }).transport;
      for (let i = 0; i < 3; i++) transport.send(peer, new Uint8Array([0xff, 0xfe, 0xfd, i]));
    }, a.id);
    await a.page.waitForFunction(() => window.engram!.problems().length > 0);
    const problems = await a.page.evaluate(() => window.engram!.problems());
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatchObject({ source: 'peer-message', peer: b.id });
    const line = a.page.locator('[data-status^="problem-peer-message"]');
    await expect(line).toContainText(`A message from a peer could not be read (peer ${b.id})`);
    await expect.poll(() => a.page.evaluate(() => window.engram!.problems()[0]!.count)).toBe(3);
    await expect(line).toContainText('3 times');
  } finally {
    await context.close();
    await server.close();
  }
});

test('a tab reloaded while the server is down opens from the service worker cache and shows its memories', async ({ browser }) => {
  const server = await startEngramServer();
  const context = await browser.newContext();
  try {
    const node = await openNode(context, `${server.url}?room=ui-offline-${Date.now()}`);
    // The service worker has precached the app shell once it is active.
    await node.page.evaluate(async () => {
      await navigator.serviceWorker.ready;
    });
    await rememberThroughForm(node.page, 'the spare key is under the blue pot');
    await server.close();
    await node.page.reload();
    await node.page.waitForFunction(() => document.documentElement.dataset.engramReady === 'true', undefined, { timeout: 30_000 });
    expect(await node.page.evaluate(() => window.engram!.id)).toBe(node.id);
    await expect(resultItem(node.page, 'the spare key is under the blue pot')).toHaveCount(1);
    await expect(node.page.locator('[data-status="signaling-unreachable"]')).toContainText('Cannot reach the signaling server');
    expect(await node.page.evaluate(() => navigator.serviceWorker.controller !== null)).toBe(true);
  } finally {
    await context.close();
  }
});
