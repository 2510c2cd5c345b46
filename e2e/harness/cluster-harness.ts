/**
 * A cluster of Engram nodes for partition tests: a signaling server in this process and one
 * Chromium per node, and the faults a test injects between them: partitions, one-way cuts,
 * isolation, a bridge node, crashes and restarts.
 *
 * Hard mode (root, iproute2, iptables): each browser runs in its own network namespace and a
 * cut drops real packets (netns.ts), so data channels go quiet and ICE fails as on a real
 * network. Soft mode (anywhere else): the browsers share the host's network and a cut is
 * `window.engram.faults.block` inside each node's transport; the data channels stay up. The mode
 * is chosen once per cluster and reported once per process.
 *
 * Cuts are modelled as a set of directed pairs (packets from A do not reach B), so every
 * operation is a change of that set, applied to the network as a whole; the set survives a
 * node's restart.
 */
import { chromium, type BrowserContext, type Page } from '@playwright/test';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from '../../playwright.config.js';
import { startServer, type RunningServer } from '../../signaling/server.js';
import { openNode, quietLog } from '../cluster.js';
import { hardPartitionsAvailable, Network } from './netns.js';

export type PartitionMode = 'hard' | 'soft';

export type HarnessErrorCode = 'not-started' | 'bad-groups' | 'bad-node' | 'node-down' | 'one-way-needs-hard' | 'hard-unavailable';

export class HarnessError extends Error {
  constructor(
    readonly code: HarnessErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'HarnessError';
  }
}

/** One node of the cluster: its own browser process, one tab running the app. */
export interface ClusterNode {
  readonly index: number;
  /** The node id (`window.engram.id`); kept across restart() unless asked otherwise. */
  readonly id: string;
  readonly page: Page;
  /** The node's browser (a persistent context: one Chromium process with its own profile). */
  readonly browser: BrowserContext;
  /** Its 198.18.x.y address in hard mode; undefined in soft mode (all share the host's). */
  readonly address: string | undefined;
  /** False between crash(i) and restart(i). */
  readonly up: boolean;
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

/** Bytes over the data channels in a window, indexed by node: see BrowserCluster.measureTraffic. */
export interface TrafficMatrix {
  readonly received: readonly (readonly number[])[];
  readonly sent: readonly (readonly number[])[];
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

/** The soft-mode notice is printed once per process, not once per test. */
let softNoticePrinted = false;

const SESSION_ID_KEY = 'engram-mesh:node-id';

interface NodeSlot {
  index: number;
  id: string;
  page: Page;
  browser: BrowserContext;
  address: string | undefined;
  up: boolean;
  profileDir: string;
}

export class BrowserCluster {
  private server: RunningServer | undefined;
  private network: Network | undefined;
  private scratchDir: string | undefined;
  private url = '';
  private partitionMode: PartitionMode | undefined;
  private readonly slots: NodeSlot[] = [];
  /** Directed cuts as `from>to`: packets from node `from` do not reach node `to`. */
  private cutPairs = new Set<string>();
  private readonly startedAtMs = performance.now();
  private readonly logLine: (line: string) => void;

  constructor(options: ClusterOptions = {}) {
    this.logLine = options.log ?? ((line) => console.log(line));
  }

  get mode(): PartitionMode {
    if (!this.partitionMode) throw new HarnessError('not-started', 'the cluster has not been started');
    return this.partitionMode;
  }

  get nodes(): readonly ClusterNode[] {
    return this.slots;
  }

  /** The URL every node opened (room and secret included). */
  get roomUrl(): string {
    return this.url;
  }

  /**
   * The root namespace's address on the bridge (198.18.N.1), which every node reaches whatever
   * the cuts: where a benchmark serves pages of its own to the nodes. Undefined in soft mode,
   * where the nodes share the host's network (use 127.0.0.1).
   */
  get hostAddress(): string | undefined {
    return this.network?.hostAddress;
  }

  /** Starts the server and the nodes, and waits until each node runs (not until they see each other). */
  async start(options: StartOptions): Promise<void> {
    if (this.partitionMode) throw new HarnessError('not-started', 'start() was already called');
    const wanted = options.partitions ?? (process.env.ENGRAM_PARTITIONS as StartOptions['partitions']) ?? 'auto';
    const capability = wanted === 'soft' ? { available: false as const, reason: 'soft partitions were asked for' } : await hardPartitionsAvailable();
    if (!capability.available && wanted === 'hard') throw new HarnessError('hard-unavailable', `hard partitions unavailable: ${capability.reason}`);
    this.partitionMode = capability.available ? 'hard' : 'soft';
    if (!capability.available && !softNoticePrinted) {
      softNoticePrinted = true;
      console.warn(`hard partitions unavailable: ${capability.reason}; using soft partitions`);
    }
    this.scratchDir = mkdtempSync(join(tmpdir(), 'engram-cluster-'));
    const room = options.room ?? `part-${process.pid}-${Date.now().toString(36)}`;
    const fragment = options.secret ? `#${encodeURIComponent(options.secret)}` : '';
    if (this.partitionMode === 'hard') {
      this.network = await Network.create({ nodes: options.nodes, chromiumPath: CHROMIUM_PATH });
      // The nodes reach the server over the bridge, at the root namespace's address on it.
      this.server = await startServer({ port: 0, host: this.network.hostAddress, log: quietLog });
      this.url = `http://${this.network.hostAddress}:${this.server.port}/?room=${room}${fragment}`;
    } else {
      this.server = await startServer({ port: 0, host: '127.0.0.1', log: quietLog });
      this.url = `${this.server.url}?room=${room}${fragment}`;
    }
    for (let index = 0; index < options.nodes; index++) {
      const profileDir = join(this.scratchDir, `profile-${index}`);
      const { browser, page, id } = await this.launchNode(index, profileDir, undefined);
      this.slots.push({ index, id, page, browser, address: this.network?.nodes[index]?.address, up: true, profileDir });
    }
    this.log(`started ${options.nodes} nodes (${this.partitionMode} partitions) at ${this.url}`);
  }

  private async launchNode(index: number, profileDir: string, keepId: string | undefined): Promise<{ browser: BrowserContext; page: Page; id: string }> {
    const namespaced = this.network?.nodes[index];
    const browser = await chromium.launchPersistentContext(profileDir, {
      executablePath: namespaced?.chromiumWrapper ?? CHROMIUM_PATH,
      headless: true,
      // Over the bridge the page is plain http on a non-loopback address, so not a secure context
      // (no crypto.subtle, no Web Locks), as on a real LAN: no flag pretends otherwise, and the
      // app must (and does) work there. e2e/lan.spec.ts asserts it.
      args: CHROMIUM_ARGS,
      viewport: { width: 1200, height: 900 },
    });
    if (keepId !== undefined) {
      // A new browser process has no sessionStorage, where the app keeps its node id: seed it,
      // as a browser restoring its session would, so the node comes back as itself.
      await browser.addInitScript(
        ([key, id]) => {
          if (sessionStorage.getItem(key) === null) sessionStorage.setItem(key, id);
        },
        [SESSION_ID_KEY, keepId] as const,
      );
    }
    const blank = browser.pages();
    const node = await openNode(browser, this.url);
    for (const page of blank) await page.close();
    return { browser, page: node.page, id: node.id };
  }

  /** Splits the cluster into groups that cannot reach each other. Replaces every current cut. */
  async partition(groups: readonly (readonly number[])[]): Promise<void> {
    const seen = new Set<number>();
    for (const index of groups.flat()) {
      this.checkIndex(index);
      if (seen.has(index)) throw new HarnessError('bad-groups', `node ${index} is in more than one group`);
      seen.add(index);
    }
    if (seen.size !== this.slots.length) throw new HarnessError('bad-groups', `the groups must name every node once, got ${JSON.stringify(groups)}`);
    const cuts = new Set<string>();
    for (const [g, group] of groups.entries()) {
      for (const [h, other] of groups.entries()) {
        if (g === h) continue;
        for (const from of group) for (const to of other) cuts.add(`${from}>${to}`);
      }
    }
    await this.applyCuts(cuts, `partition ${JSON.stringify(groups)}`);
  }

  /** Packets from every `from` node stop reaching every `to` node; the other way still works. Adds to the current cuts. */
  async cutOneWay(from: readonly number[], to: readonly number[]): Promise<void> {
    const cuts = new Set(this.cutPairs);
    for (const source of from) {
      for (const target of to) {
        this.checkIndex(source);
        this.checkIndex(target);
        if (source !== target) cuts.add(`${source}>${target}`);
      }
    }
    await this.applyCuts(cuts, `one-way cut ${JSON.stringify(from)} -> ${JSON.stringify(to)}`);
  }

  /** Node `index` alone on one side, everyone else on the other. Replaces every current cut. */
  async isolate(index: number): Promise<void> {
    this.checkIndex(index);
    await this.partition([[index], this.slots.map((slot) => slot.index).filter((other) => other !== index)]);
  }

  /**
   * `left` and `right` cannot reach each other; `bridgeNode` reaches both (a non-transitive
   * network, the case SWIM's indirect probes exist for). Nodes named nowhere reach everyone.
   * Replaces every current cut.
   */
  async bridge(left: readonly number[], right: readonly number[], bridgeNode: number): Promise<void> {
    for (const index of [...left, ...right, bridgeNode]) this.checkIndex(index);
    if (left.includes(bridgeNode) || right.includes(bridgeNode) || left.some((index) => right.includes(index))) {
      throw new HarnessError('bad-groups', `left, right and the bridge node must not overlap: ${JSON.stringify({ left, right, bridgeNode })}`);
    }
    const cuts = new Set<string>();
    for (const a of left) {
      for (const b of right) {
        cuts.add(`${a}>${b}`);
        cuts.add(`${b}>${a}`);
      }
    }
    await this.applyCuts(cuts, `bridge ${JSON.stringify(left)} <-${bridgeNode}-> ${JSON.stringify(right)}`);
  }

  /** Removes every cut. */
  async heal(): Promise<void> {
    await this.applyCuts(new Set(), 'heal');
  }

  /** The current cuts as [from, to] pairs (packets from `from` do not reach `to`). */
  cuts(): [number, number][] {
    return [...this.cutPairs].map((pair) => pair.split('>').map(Number) as [number, number]).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  }

  /** Kills node `index`'s browser process (SIGKILL: no pagehide, no goodbye to its peers). */
  async crash(index: number): Promise<void> {
    this.checkIndex(index);
    const slot = this.slots[index]!;
    if (!slot.up) throw new HarnessError('node-down', `node ${index} is already down`);
    const startedMs = performance.now();
    const pids = this.network ? await this.network.killAll(index) : killByProfile(slot.profileDir);
    slot.up = false;
    // The context is dead; closing it only releases Playwright's side.
    await slot.browser.close().catch(() => undefined);
    this.log(`crash node ${index} (${pids.length} processes killed) in ${Math.round(performance.now() - startedMs)} ms`);
  }

  /**
   * A new browser for node `index`, in the same namespace and with the same profile (so its
   * IndexedDB survives). With `keepId` (default) it runs as the same node id and so reopens its
   * own store; without, it joins as a fresh node with an empty store. Current cuts apply to it.
   */
  async restart(index: number, options: { keepId?: boolean } = {}): Promise<void> {
    this.checkIndex(index);
    const slot = this.slots[index]!;
    if (slot.up) await this.crash(index);
    const startedMs = performance.now();
    const { browser, page, id } = await this.launchNode(index, slot.profileDir, options.keepId === false ? undefined : slot.id);
    Object.assign(slot, { browser, page, id, up: true });
    // Hard cuts live in the namespace and are still there; soft ones lived in the dead page.
    if (this.mode === 'soft') await this.applySoft(this.cutPairs);
    this.log(`restart node ${index} as ${id} in ${Math.round(performance.now() - startedMs)} ms`);
  }

  /** Closes every browser, the server and the network. Safe to call twice, and after a failed start. */
  async close(): Promise<void> {
    const failures: unknown[] = [];
    await Promise.all(this.slots.map((slot) => slot.browser.close().catch((error: unknown) => failures.push(error))));
    this.slots.length = 0;
    await this.server?.close().catch((error: unknown) => failures.push(error));
    this.server = undefined;
    await this.network?.destroy().catch((error: unknown) => failures.push(error));
    this.network = undefined;
    if (this.scratchDir) rmSync(this.scratchDir, { recursive: true, force: true });
    this.scratchDir = undefined;
    if (failures.length > 0) throw new AggregateError(failures, 'closing the cluster failed');
  }

  /**
   * Data-channel bytes between every pair of live nodes over the next `durationMs`, from each
   * node's per-peer counters: `received[to][from]` and `sent[from][to]`. A hard cut shows as
   * `received[to][from] === 0` while `sent[from][to] > 0`: the sender talks, the network drops.
   * Pairs with a node down read 0.
   */
  async measureTraffic(durationMs: number): Promise<TrafficMatrix> {
    const before = await this.linkCounters();
    await new Promise((resolve) => setTimeout(resolve, durationMs));
    const after = await this.linkCounters();
    const size = this.slots.length;
    const received = Array.from({ length: size }, () => new Array<number>(size).fill(0));
    const sent = Array.from({ length: size }, () => new Array<number>(size).fill(0));
    for (const node of this.slots) {
      for (const peer of this.slots) {
        const was = before[node.index]?.get(peer.id);
        const is = after[node.index]?.get(peer.id);
        if (peer === node || !was || !is) continue;
        received[node.index]![peer.index] = is.bytesIn - was.bytesIn;
        sent[node.index]![peer.index] = is.bytesOut - was.bytesOut;
      }
    }
    return { received, sent };
  }

  private linkCounters(): Promise<(Map<string, { bytesIn: number; bytesOut: number }> | undefined)[]> {
    return Promise.all(
      this.slots.map(async (slot) => {
        if (!slot.up) return undefined;
        const links = await slot.page.evaluate(() => window.engram!.links());
        return new Map(links.map((link) => [link.peer, { bytesIn: link.bytesIn, bytesOut: link.bytesOut }]));
      }),
    );
  }

  /** Milliseconds since this cluster object was made, for log lines. */
  elapsedMs(): number {
    return performance.now() - this.startedAtMs;
  }

  log(line: string): void {
    this.logLine(`[cluster +${(this.elapsedMs() / 1000).toFixed(1)}s] ${line}`);
  }

  private checkIndex(index: number): void {
    if (!Number.isInteger(index) || index < 0 || index >= this.slots.length) {
      throw new HarnessError('bad-node', `no node ${index} in a cluster of ${this.slots.length}`);
    }
  }

  private async applyCuts(cuts: Set<string>, what: string): Promise<void> {
    const startedMs = performance.now();
    if (this.mode === 'hard') {
      const drops = new Map<number, Set<number>>();
      for (const pair of cuts) {
        const [from, to] = pair.split('>').map(Number) as [number, number];
        drops.set(to, (drops.get(to) ?? new Set()).add(from));
      }
      await this.network!.applyDrops(drops);
    } else {
      await this.applySoft(cuts);
    }
    this.cutPairs = cuts;
    this.log(`${what}: ${cuts.size} directed cuts in place (${this.mode}) in ${Math.round(performance.now() - startedMs)} ms`);
  }

  /** faults.block drops both directions, so soft mode can only express symmetric cuts. */
  private async applySoft(cuts: Set<string>): Promise<void> {
    for (const pair of cuts) {
      const [from, to] = pair.split('>');
      if (!cuts.has(`${to}>${from}`)) {
        throw new HarnessError('one-way-needs-hard', `a one-way cut (${from} -> ${to}) needs hard partitions; soft faults block both directions`);
      }
    }
    await Promise.all(
      this.slots
        .filter((slot) => slot.up)
        .map((slot) => {
          const blocked = this.slots.filter((other) => cuts.has(`${other.index}>${slot.index}`)).map((other) => other.id);
          // One evaluate: heal and block in the same task, so no message slips between them.
          return slot.page.evaluate((ids) => {
            window.engram!.faults.heal();
            window.engram!.faults.block(ids);
          }, blocked);
        }),
    );
  }
}

/** Soft mode has no namespace to empty: find the browser's processes by their unique profile dir. */
function killByProfile(profileDir: string): number[] {
  const killed: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let commandLine: string;
    try {
      commandLine = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
    } catch {
      continue; // Exited while we looked.
    }
    if (!commandLine.includes(`--user-data-dir=${profileDir}`)) continue;
    try {
      process.kill(Number(entry), 'SIGKILL');
      killed.push(Number(entry));
    } catch {
      // Gone already.
    }
  }
  return killed;
}
