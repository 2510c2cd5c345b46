/**
 * `engram-mesh/testing`: partition tests of any web app in real Chromium. `PartitionCluster`
 * (and the `test` fixture that hands one to each test) opens N browsers on your app and cuts the
 * network between them; hard cuts need nothing from the page, soft cuts, traffic figures and the
 * recorded, checked client workload need the page to expose an Engram node as `window.engram`.
 */
export { PartitionCluster, HarnessError, type AppSource, type ClusterNode, type HarnessErrorCode, type PartitionClusterOptions, type PartitionMode, type ServedApp, type TrafficMatrix } from './partition-cluster.js';
export { clusterFixture, test, expect } from './fixture.js';
export { engramIdOf, engramReady, merkleRoots, RecordedClient, snapshots, waitForConvergence, waitForVisibility, type EngramWindow, type HasPage } from './engram-page.js';
export { CHROMIUM_ARGS, CHROMIUM_PATH } from './chromium.js';
export { arrivalTimes, HiddenTabsBrowser, measureThrottling, watchArrivals, writeIn, type HiddenTab, type HiddenTabsOptions, type TabThrottling } from './hidden-tabs.js';
export { hardPartitionsAvailable, removeLeftovers, type Capability } from '../../e2e/harness/netns.js';
export { History } from '../check/history.js';
export { checkSnapshots, type CheckReport, type ReplicaSnapshot } from '../check/checker.js';
