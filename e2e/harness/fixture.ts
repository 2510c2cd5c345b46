/**
 * The `cluster` Playwright fixture: an unstarted BrowserCluster per test, closed afterwards
 * whatever happened (browsers, server, namespaces and iptables rules). When the test failed,
 * each node's view (visibility, links, transport counters) is attached to the report first.
 *
 *   import { test, expect } from './harness/fixture.js';
 *   test('...', async ({ cluster }) => { await cluster.start({ nodes: 5 }); ... });
 */
import { test as base } from '@playwright/test';
import { BrowserCluster } from './cluster-harness.js';

export { expect } from '@playwright/test';

export const test = base.extend<{ cluster: BrowserCluster }>({
  cluster: [
    // Playwright reads the fixture's dependencies from this destructuring: it must be an object pattern.
    // eslint-disable-next-line no-empty-pattern
    async ({}, use, testInfo) => {
      const cluster = new BrowserCluster();
      try {
        await use(cluster);
      } finally {
        if (testInfo.status !== testInfo.expectedStatus) {
          const views = await Promise.all(
            cluster.nodes.map(async (node) =>
              node.up
                ? node.page
                    .evaluate(() => ({ id: window.engram!.id, visibility: window.engram!.visibility(), links: window.engram!.links(), transport: window.engram!.stats().transport }))
                    .catch((error: unknown) => ({ index: node.index, error: String(error) }))
                : { index: node.index, down: true },
            ),
          );
          await testInfo.attach('cluster-state.json', { body: JSON.stringify({ mode: cluster.nodes.length > 0 ? cluster.mode : undefined, cuts: cluster.cuts(), views }, null, 2), contentType: 'application/json' });
        }
        await cluster.close();
      }
    },
    // Closing five browsers and deleting namespaces must not eat the test's own time budget.
    { timeout: 60_000 },
  ],
});
