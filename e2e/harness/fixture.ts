/**
 * The `cluster` Playwright fixture: an unstarted BrowserCluster per test, closed afterwards
 * whatever happened (browsers, server, namespaces and iptables rules). When the test failed,
 * each node's view (visibility, links, transport counters) is attached to the report first
 * (src/testing/fixture.ts, the package's fixture, does all of it).
 *
 *   import { test, expect } from './harness/fixture.js';
 *   test('...', async ({ cluster }) => { await cluster.start({ nodes: 5 }); ... });
 */
import { test as base } from '@playwright/test';
import { clusterFixture } from '../../src/testing/fixture.js';
import { BrowserCluster } from './cluster-harness.js';

export { expect } from '@playwright/test';

export const test = base.extend<{ cluster: BrowserCluster }>({ cluster: clusterFixture(() => new BrowserCluster()) });
