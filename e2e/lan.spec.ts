/**
 * Another device on the LAN, as a person opens it: five browsers, each in its own network
 * namespace, load the UI over plain http from the server's bridge address (198.18.N.1), with no
 * flag that blesses the origin. The pages are therefore not secure contexts (no crypto.subtle,
 * no Web Locks), and still: the mesh forms with and without a room secret, tabs duplicated from
 * one another run as different nodes, a tab with the wrong secret is refused and told why, and a
 * hard partition heals with nothing lost.
 *
 * Needs network namespaces (root, iproute2, iptables): skipped, saying why, where they are
 * missing, and failed if ENGRAM_PARTITIONS=hard asks for them there.
 */
import type { Page } from '@playwright/test';
import type { BrowserCluster, ClusterNode } from './harness/cluster-harness.js';
import { expect, test } from './harness/fixture.js';
import { hardPartitionsAvailable } from './harness/netns.js';
import { waitForConvergence, waitForVisibility } from './cluster.js';

const SECRET = 'lan secret';
const SIDE_A = [0, 1, 2];
const SIDE_B = [3, 4];

test.describe.configure({ timeout: 90_000 });

async function waitReady(page: Page): Promise<string> {
  await page.waitForFunction(() => document.documentElement.dataset.engramReady !== undefined, undefined, { timeout: 30_000 });
  const error = await page.evaluate(() => window.engramError);
  if (error) throw new Error(`node failed to start: ${error}`);
  return page.evaluate(() => window.engram!.id);
}

async function openTab(node: ClusterNode, url: string): Promise<{ page: Page; id: string }> {
  const page = await node.browser.newPage();
  page.on('pageerror', (error) => console.error(`[page error] ${error.message}`));
  await page.goto(url);
  return { page, id: await waitReady(page) };
}

async function waitForPeers(page: Page, visible: number): Promise<void> {
  await page.waitForFunction((count) => window.engram?.visibility().visible === count && window.engram.visibility().total === count, visible, {
    timeout: 30_000,
    polling: 100,
  });
}

async function remember(page: Page, content: string): Promise<string> {
  return page.evaluate(async (text) => (await window.engram!.remember({ content: text })).id, content);
}

async function missingOn(page: Page, ids: readonly string[]): Promise<string[]> {
  return page.evaluate(async (wanted) => {
    const missing: string[] = [];
    for (const id of wanted) if (!(await window.engram!.get(id))) missing.push(id);
    return missing;
  }, ids);
}

async function startOnTheLan(cluster: BrowserCluster): Promise<void> {
  const wanted = process.env.ENGRAM_PARTITIONS;
  const capability = wanted === 'soft' ? { available: false as const, reason: 'ENGRAM_PARTITIONS=soft asks for no namespaces' } : await hardPartitionsAvailable();
  // Under ENGRAM_PARTITIONS=hard a missing capability is a failure (start throws 'hard-unavailable'), not a skip.
  if (!capability.available && wanted !== 'hard') {
    const reason = `the LAN test needs browsers in network namespaces: ${capability.reason}`;
    console.warn(`skipped: ${reason}`);
    test.skip(true, reason);
  }
  await cluster.start({ nodes: 5, secret: SECRET, partitions: 'hard' });
}

test('five browsers on plain http bridge addresses, no secure context: mesh with and without a secret, wrong secret refused and told why, partition healed with nothing lost', async ({ cluster }) => {
  await startOnTheLan(cluster);
  const nodes = cluster.nodes;
  const bridgeAddress = cluster.hostAddress!;

  await test.step('every page is plain http on the bridge address, and not a secure context', async () => {
    for (const node of nodes) {
      expect(
        await node.page.evaluate(() => ({
          protocol: location.protocol,
          hostname: location.hostname,
          isSecureContext: window.isSecureContext,
          subtle: typeof crypto.subtle,
          locks: typeof (navigator as { locks?: unknown }).locks,
          handleSays: window.engram!.secureContext,
        })),
      ).toEqual({ protocol: 'http:', hostname: bridgeAddress, isSecureContext: false, subtle: 'undefined', locks: 'undefined', handleSays: false });
    }
    expect(bridgeAddress).toMatch(/^198\.1[89]\./);
  });

  await test.step('with a room secret the five authenticate each other and form the mesh', async () => {
    for (const node of nodes) await waitForVisibility(node, 5, 5, 30_000);
    expect(new Set(nodes.map((node) => node.id)).size).toBe(5);
    const id = await remember(nodes[0]!.page, 'written on the lan');
    await expect.poll(async () => (await Promise.all(nodes.map((node) => missingOn(node.page, [id])))).flat(), { timeout: 15_000 }).toEqual([]);
  });

  await test.step('a tab with the wrong secret is refused by all five, and its links say why', async () => {
    const intruder = await openTab(nodes[4]!, cluster.roomUrl.replace(/#.*$/, '#not the secret'));
    const goodIds = nodes.map((node) => node.id).sort();
    await intruder.page.waitForFunction(
      (peers) => {
        const refused = window.engram!.links().filter((link) => link.lastErrorCode === 'wrong-secret').map((link) => link.peer).sort();
        return JSON.stringify(refused) === JSON.stringify(peers);
      },
      goodIds,
      { timeout: 30_000, polling: 100 },
    );
    const links = await intruder.page.evaluate(() => window.engram!.links());
    for (const link of links) expect(link.lastError).toMatch(/^authentication failed: /);
    expect(await intruder.page.evaluate(() => window.engram!.visibility())).toMatchObject({ visible: 1, total: 1 });
    // Every member refused it too, saying why, and none counts it as a member.
    for (const node of nodes) {
      await expect
        .poll(() => node.page.evaluate((peer) => window.engram!.links().find((link) => link.peer === peer)?.lastErrorCode, intruder.id), { timeout: 15_000 })
        .toBe('wrong-secret');
      expect(await node.page.evaluate(() => window.engram!.visibility())).toMatchObject({ visible: 5, total: 5 });
    }
    await intruder.page.close();
  });

  await test.step('without a secret a room forms too, and a tab opened from another runs as another node', async () => {
    const openRoomUrl = `${cluster.roomUrl.replace(/[?#].*$/, '')}?room=open-${Date.now().toString(36)}`;
    const first = await openTab(nodes[0]!, openRoomUrl);
    // window.open copies the opener's sessionStorage, where the node id lives: without Web Locks
    // only the BroadcastChannel probe (node-identity.ts) keeps the copy from running as the same node.
    const [duplicate] = await Promise.all([nodes[0]!.browser.waitForEvent('page'), first.page.evaluate(() => void window.open(location.href))]);
    const duplicateId = await waitReady(duplicate);
    const other = await openTab(nodes[1]!, openRoomUrl);
    expect(new Set([first.id, duplicateId, other.id]).size).toBe(3);
    for (const page of [first.page, duplicate, other.page]) await waitForPeers(page, 3);
    const id = await remember(other.page, 'no secret needed');
    await expect.poll(async () => [...(await missingOn(first.page, [id])), ...(await missingOn(duplicate, [id]))], { timeout: 15_000 }).toEqual([]);
    for (const page of [first.page, duplicate, other.page]) await page.close();
  });

  await test.step('a hard 3|2 partition heals with every acknowledged write on every node', async () => {
    const acked: string[] = [];
    await cluster.partition([SIDE_A, SIDE_B]);
    for (const index of SIDE_A) await waitForVisibility(nodes[index]!, 3, 5, 30_000);
    for (const index of SIDE_B) await waitForVisibility(nodes[index]!, 2, 5, 30_000);
    for (const node of nodes) for (let k = 0; k < 10; k++) acked.push(await remember(node.page, `cut write ${node.index}-${k}`));
    await cluster.heal();
    for (const node of nodes) await waitForVisibility(node, 5, 5, 30_000);
    await waitForConvergence(nodes, 30_000);
    for (const node of nodes) expect(await missingOn(node.page, acked), `acknowledged writes missing on node ${node.index}`).toEqual([]);
    expect(acked).toHaveLength(50);
  });
});
