/**
 * A cluster of this repository's app for partition tests: the package's generic harness
 * (src/testing/partition-cluster.ts, `engram-mesh/testing`) pointed at this repository's own
 * server and built UI (dist/), in a fresh room, with every node's id known. Cuts, crashes,
 * restarts, traffic figures and the hard/soft choice are the generic harness's; see
 * docs/PARTITION-HARNESS.md.
 */
import type { Page } from '@playwright/test';
import { startServer } from '../../signaling/server.js';
import { PartitionCluster, type ClusterNode as GenericClusterNode, type PartitionMode } from '../../src/testing/partition-cluster.js';
import { quietLog } from '../cluster.js';
import { hardPartitionsAvailable } from './netns.js';

export { HarnessError, type HarnessErrorCode, type PartitionMode, type TrafficMatrix } from '../../src/testing/partition-cluster.js';

/** One node of the cluster; the app always exposes its node, so its id is known. */
export interface ClusterNode extends GenericClusterNode {
  /** The node id (`window.engram.id`); kept across restart() unless asked otherwise. */
  readonly id: string;
}

export interface StartOptions {
  readonly nodes: number;
  /** The room; a fresh unique one by default. */
  readonly room?: string;
  /** Room secret (URL fragment): the peers authenticate each other with it. */
  readonly secret?: string;
  /** 'auto' (default, or ENGRAM_PARTITIONS): hard where the machine allows, else soft with a notice. */
  readonly partitions?: 'auto' | PartitionMode;
}

export interface ClusterOptions {
  /** Where timing lines go; console.log by default. */
  readonly log?: (line: string) => void;
}

/**
 * For a test whose claim needs real cuts (silent channels, ICE failure, one-way cuts): the reason
 * to skip it on this machine, or undefined when it must run. Under ENGRAM_PARTITIONS=hard (CI) it
 * is never skipped, so where the machine cannot cut packets the cluster's start fails instead: a
 * hard-cut test is skipped or failed there, never passed on soft faults. To see this on a machine
 * that can cut, point ENGRAM_IP_PATH at a missing binary.
 */
export async function skipUnlessHardPartitions(): Promise<string | undefined> {
  if (process.env.ENGRAM_PARTITIONS === 'hard') return undefined;
  const capability = await hardPartitionsAvailable();
  return capability.available ? undefined : `needs hard partitions, unavailable here: ${capability.reason} (ENGRAM_PARTITIONS=hard makes this a failure)`;
}

export class BrowserCluster extends PartitionCluster {
  constructor(private readonly clusterOptions: ClusterOptions = {}) {
    super();
  }

  override get nodes(): readonly ClusterNode[] {
    return super.nodes as readonly ClusterNode[];
  }

  /** The URL every node opened (room and secret included). */
  get roomUrl(): string {
    return this.appUrl;
  }

  /** Starts this repository's server and the nodes, and waits until each node runs (not until they see each other). */
  override async start(options: StartOptions): Promise<void> {
    const room = options.room ?? `part-${process.pid}-${Date.now().toString(36)}`;
    const query = `?room=${room}${options.secret ? `#${encodeURIComponent(options.secret)}` : ''}`;
    await super.start({
      nodes: options.nodes,
      ...(options.partitions !== undefined && { partitions: options.partitions }),
      ...(this.clusterOptions.log !== undefined && { log: this.clusterOptions.log }),
      app: {
        serve: async (host) => {
          const server = await startServer({ port: 0, host, log: quietLog });
          return { url: `http://${host}:${server.port}/${query}`, close: () => server.close() };
        },
      },
      ready: appReady,
    });
  }
}

/** The app marks `data-engram-ready` on <html>: 'true' once its node runs, 'error' if it could not start. */
async function appReady(page: Page): Promise<void> {
  await page.waitForFunction(() => document.documentElement.dataset.engramReady !== undefined, undefined, { timeout: 30_000 });
  const error = await page.evaluate(() => window.engramError);
  if (error) throw new Error(`node failed to start: ${error}`);
}
