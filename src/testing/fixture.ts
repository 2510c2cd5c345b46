/**
 * The `cluster` Playwright fixture: an unstarted PartitionCluster per test, closed afterwards
 * whatever happened (browsers, the app's server, namespaces and iptables rules). When the test
 * failed, the cuts and each Engram node's view (visibility, links) are attached to the report.
 *
 *   import { test, expect } from 'engram-mesh/testing';
 *   test('...', async ({ cluster }) => { await cluster.start({ nodes: 2, app: { staticDir: 'dist' } }); ... });
 */
import { test as base, type TestInfo } from '@playwright/test';
import type { EngramWindow } from './engram-page.js';
import { PartitionCluster } from './partition-cluster.js';

export { expect } from '@playwright/test';

/**
 * The fixture's body for any PartitionCluster (the repository's own BrowserCluster too): made
 * fresh per test, its state attached when the test failed, closed whatever happened.
 */
export function clusterFixture<C extends PartitionCluster>(
  create: () => C,
): [(args: object, use: (cluster: C) => Promise<void>, testInfo: TestInfo) => Promise<void>, { timeout: number }] {
  return [
    // Playwright reads the fixture's dependencies from this destructuring: it must be an object pattern.
    // eslint-disable-next-line no-empty-pattern
    async ({}, use: (cluster: C) => Promise<void>, testInfo: TestInfo) => {
      const cluster = create();
      try {
        await use(cluster);
      } finally {
        if (testInfo.status !== testInfo.expectedStatus) {
          const views = await Promise.all(
            cluster.nodes.map(async (node) =>
              node.up && node.id !== undefined
                ? node.page
                    .evaluate(() => {
                      const engram = (window as unknown as EngramWindow).engram!;
                      return { id: engram.id, visibility: engram.visibility(), links: engram.links(), transport: engram.stats().transport };
                    })
                    .catch((error: unknown) => ({ index: node.index, error: String(error) }))
                : { index: node.index, up: node.up },
            ),
          );
          await testInfo.attach('cluster-state.json', { body: JSON.stringify({ mode: cluster.nodes.length > 0 ? cluster.mode : undefined, cuts: cluster.cuts(), views }, null, 2), contentType: 'application/json' });
        }
        await cluster.close();
      }
    },
    // Closing browsers and deleting namespaces must not eat the test's own time budget.
    { timeout: 60_000 },
  ];
}

export const test = base.extend<{ cluster: PartitionCluster }>({ cluster: clusterFixture(() => new PartitionCluster()) });
