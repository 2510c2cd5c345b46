/**
 * The console's layout in a live 3-tab cluster at a phone's, a tablet's and a desktop's width,
 * in four states (healthy, partitioned, with a conflict, a tab refused for a wrong secret): no
 * horizontal scrolling, no header field drawn over another, and no card left hanging below a hole
 * (each card starts one gap below the card above it, or at the top), in every one. UPDATE_DOCS=1 writes
 * the screenshots the README shows to docs/; otherwise they go to the test's output folder.
 */
import { expect, test, type Page } from '@playwright/test';
import { openCluster, openNode, startEngramServer, waitForVisibility, type BrowserNode } from './cluster.js';

const VIEWPORTS = [
  { name: 'phone', width: 390, height: 844 },
  { name: 'tablet', width: 768, height: 1024 },
  { name: 'desktop', width: 1280, height: 900 },
] as const;

interface LayoutReport {
  readonly scrollWidth: number;
  readonly innerWidth: number;
  readonly fields: { name: string; left: number; top: number; right: number; bottom: number; valueWidth: number }[];
  /** For each card, the empty space between it and the nearest card above it (or the top of the main area). */
  readonly holes: { card: string; above: string; px: number }[];
}

/** The layout's gap between cards is 12 px (8 px on phones); anything larger is a hole. */
const MAX_CARD_GAP_PX = 14;

/** Page width and the header's boxes: title, each field (with its value's width) and the signaling badge. */
function measure(page: Page): Promise<LayoutReport> {
  return page.evaluate(() => {
    const header = document.querySelector('engram-app')!.shadowRoot!.querySelector('engram-header')!.shadowRoot!;
    const box = (element: Element, name: string, valueWidth: number) => {
      const rect = element.getBoundingClientRect();
      return { name, left: rect.left, top: rect.top, right: rect.right, bottom: rect.bottom, valueWidth };
    };
    const fields = [box(header.querySelector('h1')!, 'title', Number.POSITIVE_INFINITY)];
    for (const field of header.querySelectorAll('dl > div')) {
      fields.push(box(field, field.querySelector('dt')!.textContent!.trim(), field.querySelector('dd')!.getBoundingClientRect().width));
    }
    fields.push(box(header.querySelector('[data-testid="signaling"]')!, 'signaling', Number.POSITIVE_INFINITY));
    const main = document.querySelector('engram-app')!.shadowRoot!.querySelector('main')!;
    const mainTop = main.getBoundingClientRect().top;
    const cards = [...main.querySelectorAll('.column > *')].map((card) => ({ name: card.localName, rect: card.getBoundingClientRect() }));
    const holes = cards.map((card) => {
      const above = cards
        .filter((other) => other !== card && other.rect.bottom <= card.rect.top + 0.5)
        .filter((other) => other.rect.left < card.rect.right - 0.5 && card.rect.left < other.rect.right - 0.5)
        .sort((x, y) => y.rect.bottom - x.rect.bottom)[0];
      return { card: card.name, above: above?.name ?? 'top', px: card.rect.top - (above ? above.rect.bottom : mainTop) };
    });
    return { scrollWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth, fields, holes };
  });
}

function overlaps(a: LayoutReport['fields'][number], b: LayoutReport['fields'][number]): boolean {
  return a.left < b.right - 0.5 && b.left < a.right - 0.5 && a.top < b.bottom - 0.5 && b.top < a.bottom - 0.5;
}

/** Checks the layout at each width and saves a screenshot of what `scrollTo` names (the top when absent). */
async function checkAndShoot(page: Page, state: string, scrollTo?: string): Promise<void> {
  for (const viewport of VIEWPORTS) {
    await page.setViewportSize({ width: viewport.width, height: viewport.height });
    await page.evaluate(() => new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve))));
    const report = await measure(page);
    expect(report.scrollWidth, `${state} at ${viewport.width} px scrolls sideways`).toBeLessThanOrEqual(report.innerWidth);
    for (const [i, a] of report.fields.entries()) {
      expect(a.valueWidth, `${state} at ${viewport.width} px: the ${a.name} value has no room`).toBeGreaterThanOrEqual(60);
      for (const b of report.fields.slice(i + 1)) {
        expect(overlaps(a, b), `${state} at ${viewport.width} px: header ${a.name} overlaps ${b.name}`).toBe(false);
      }
    }
    for (const hole of report.holes) {
      expect(hole.px, `${state} at ${viewport.width} px: ${hole.card} hangs ${Math.round(hole.px)} px below ${hole.above}`).toBeLessThanOrEqual(MAX_CARD_GAP_PX);
    }
    if (scrollTo) await page.locator(scrollTo).first().evaluate((element) => element.scrollIntoView({ block: 'start' }));
    else await page.evaluate(() => window.scrollTo(0, 0));
    const file = `ui-${state}-${viewport.width}.png`;
    await page.screenshot({ path: process.env.UPDATE_DOCS ? `docs/${file}` : test.info().outputPath(file) });
  }
}

async function remember(node: BrowserNode, content: string, options: { id?: string; tags?: string[]; confidence?: number } = {}): Promise<string> {
  return node.page.evaluate(async ([text, extra]) => (await window.engram!.remember({ content: text, ...extra })).id, [content, options] as const);
}

test('the console fits phones, tablets and desktops in a live cluster: healthy, partitioned, in conflict, refused', async ({ browser }) => {
  const server = await startEngramServer();
  const room = `ui-layout-${Date.now()}`;
  const url = `${server.url}?room=${room}#garden-secret`;
  const { context, nodes } = await openCluster(browser, url, 3);
  const [a, b, c] = [nodes[0]!, nodes[1]!, nodes[2]!];
  try {
    for (const node of nodes) await waitForVisibility(node, 3, 3);
    const shared = await remember(a, 'Water the tomatoes every other evening; more often above 30 °C.', { tags: ['garden', 'watering'], confidence: 0.9 });
    await remember(b, 'The spare key is under the blue pot by the shed.', { tags: ['house'] });
    await remember(c, 'Compost gets turned on the first Sunday of each month.', { tags: ['garden'], confidence: 0.7 });
    await expect(a.page.locator('[data-testid="recall-summary"]')).toContainText('3 memories');

    await test.step('healthy', async () => {
      await expect(a.page.locator('[data-status="all-visible"]')).toBeVisible();
      await checkAndShoot(a.page, 'healthy');
    });

    await test.step('partitioned: one tab cut off from the other two', async () => {
      await a.page.evaluate((ids) => window.engram!.faults.block(ids), [c.id]);
      await b.page.evaluate((ids) => window.engram!.faults.block(ids), [c.id]);
      await c.page.evaluate((ids) => window.engram!.faults.block(ids), [a.id, b.id]);
      await waitForVisibility(a, 2, 3);
      await waitForVisibility(c, 1, 3);
      // Both sides edit the same memory with equal confidence: after the heal, a conflict.
      await remember(a, 'Water the tomatoes every evening in July.', { id: shared, tags: ['garden', 'watering'], confidence: 0.8 });
      await remember(c, 'Water the tomatoes only when the soil is dry.', { id: shared, tags: ['garden', 'watering'], confidence: 0.8 });
      await expect(a.page.locator('[data-status="partition"]')).toContainText('You see 2 of 3 members');
      await checkAndShoot(a.page, 'partitioned');
    });

    await test.step('with a conflict after the heal', async () => {
      for (const node of nodes) await node.page.evaluate(() => window.engram!.faults.heal());
      for (const node of nodes) await waitForVisibility(node, 3, 3);
      await expect(a.page.locator('[data-testid="conflict-count"]')).toHaveText('1 to review');
      await checkAndShoot(a.page, 'conflict', 'engram-conflict-queue');
    });

    await test.step('a tab refused for a wrong secret', async () => {
      const stranger = await openNode(context, `${server.url}?room=${room}#not-the-secret`);
      await expect(stranger.page.locator('[data-status="peers-wrong-secret"]')).toContainText('3 peers');
      await checkAndShoot(stranger.page, 'refused');
    });
  } finally {
    await context.close();
    await server.close();
  }
});
