/**
 * A cluster of real Chromium processes, each with one tab of *your* app, and the faults a test
 * injects between them: partitions, one-way cuts, isolation, a bridge node, crashes and restarts.
 * The app is anything a browser opens: a URL, a directory of built files, or a server you start.
 *
 * Hard mode (Linux, root, iproute2, iptables): each browser runs in its own network namespace
 * and a cut drops real packets (netns.ts), so data channels go quiet and ICE fails as on a real
 * network. This needs nothing from the page. Soft mode (anywhere else): the browsers share the
 * host's network and a cut is `window.engram.faults.block` inside each node's transport, which
 * needs the page to expose an Engram node as `window.engram` (what `openBrowserNode` returns).
 * The mode is chosen once per cluster and the fallback reported once per process.
 *
 * Cuts are modelled as a set of directed pairs (packets from A do not reach B), so every
 * operation is a change of that set, applied to the network as a whole; the set survives a
 * node's restart.
 */
import { chromium, type BrowserContext, type Page } from '@playwright/test';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hardPartitionsAvailable, Network } from '../../e2e/harness/netns.js';
import { startServer } from '../../signaling/server.js';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from './chromium.js';
import { engramIdOf, type EngramWindow } from './engram-page.js';

export type PartitionMode = 'hard' | 'soft';

export type HarnessErrorCode =
  | 'not-started'
  | 'bad-groups'
  | 'bad-node'
  | 'node-down'
  | 'one-way-needs-hard'
  | 'hard-unavailable'
  | 'soft-needs-engram'
  | 'not-ready';

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
  /** `window.engram.id` when the page exposes an Engram node; kept across restart() unless asked otherwise. */
  readonly id: string | undefined;
  readonly page: Page;
  /** The node's browser (a persistent context: one Chromium process with its own profile). */
  readonly browser: BrowserContext;
  /** Its 198.18.x.y address in hard mode; undefined in soft mode (all share the host's). */
  readonly address: string | undefined;
  /** False between crash(i) and restart(i). */
  readonly up: boolean;
}

/** A server the harness started for the app (or that `serve` started), closed with the cluster. */
export interface ServedApp {
  /** The page every node opens. */
  readonly url: string;
  close(): Promise<void>;
}

/**
 * What every node opens. `hostAddress` is where the nodes reach this machine: 127.0.0.1 in
 * soft mode, the bridge address (198.18.N.1) in hard mode, where a server must listen for the
 * namespaced browsers to reach it.
 */
export type AppSource =
  /** A URL, or a URL made from the host address. A fixed `localhost` URL only works in soft mode. */
  | { readonly url: string | ((hostAddress: string) => string) }
  /** Built files (a Vite app's dist/), served on the host address with engram-mesh's signaling server, whose /signal the app can use. */
  | { readonly staticDir: string; readonly path?: string }
  /** Your own server, started on the host address. */
  | { readonly serve: (hostAddress: string) => Promise<ServedApp> };

export interface PartitionClusterOptions {
  readonly nodes: number;
  readonly app: AppSource;
  /**
   * Resolves once the app in `page` is ready (runs, not necessarily sees its peers); a rejection
   * fails start(). Default: waits until `window.engram` exists when the page has an Engram node
   * (`document.documentElement.dataset.engramReady`, as this package's app sets it), else until `load`.
   */
  readonly ready?: (page: Page) => Promise<unknown>;
  /** 'auto' (default, or ENGRAM_PARTITIONS): hard where the machine allows, else soft with a notice. */
  readonly partitions?: 'auto' | PartitionMode;
  /** Chromium binary; CHROMIUM_PATH or /usr/bin/chromium by default. */
  readonly chromiumPath?: string;
  /** Extra Chromium flags, after the harness's own. */
  readonly chromiumArgs?: readonly string[];
  /** Where timing lines go; console.log by default. */
  readonly log?: (line: string) => void;
}

/** Bytes over the data channels in a window, indexed by node: see PartitionCluster.measureTraffic. */
export interface TrafficMatrix {
  readonly received: readonly (readonly number[])[];
  readonly sent: readonly (readonly number[])[];
}

/** The soft-mode notice is printed once per process, not once per test. */
let softNoticePrinted = false;

/** Where openBrowserNode's identity claim keeps the tab's node id (src/store/node-identity.ts). */
const SESSION_ID_KEY = 'engram-mesh:node-id';

interface NodeSlot {
  index: number;
  id: string | undefined;
  page: Page;
  browser: BrowserContext;
  address: string | undefined;
  up: boolean;
  profileDir: string;
}

export class PartitionCluster {
  private served: ServedApp | undefined;
  private network: Network | undefined;
  private scratchDir: string | undefined;
  private url = '';
  private partitionMode: PartitionMode | undefined;
  private options: PartitionClusterOptions | undefined;
  private readonly slots: NodeSlot[] = [];
  /** Directed cuts as `from>to`: packets from node `from` do not reach node `to`. */
  private cutPairs = new Set<string>();
  private readonly startedAtMs = performance.now();
  private logLine: (line: string) => void = (line) => console.log(line);

  get mode(): PartitionMode {
    if (!this.partitionMode) throw new HarnessError('not-started', 'the cluster has not been started');
    return this.partitionMode;
  }

  get nodes(): readonly ClusterNode[] {
    return this.slots;
  }

  /** The URL every node opened. */
  get appUrl(): string {
    return this.url;
  }

  /**
   * The root namespace's address on the bridge (198.18.N.1), which every node reaches whatever
   * the cuts. Undefined in soft mode, where the nodes share the host's network (use 127.0.0.1).
   */
  get hostAddress(): string | undefined {
    return this.network?.hostAddress;
  }

  /** Serves the app, opens the nodes, and waits until each is ready (not until they see each other). */
  async start(options: PartitionClusterOptions): Promise<void> {
    if (this.partitionMode) throw new HarnessError('not-started', 'start() was already called');
    this.options = options;
    if (options.log) this.logLine = options.log;
    const wanted = options.partitions ?? (process.env.ENGRAM_PARTITIONS as PartitionClusterOptions['partitions']) ?? 'auto';
    const capability = wanted === 'soft' ? { available: false as const, reason: 'soft partitions were asked for' } : await hardPartitionsAvailable();
    if (!capability.available && wanted === 'hard') throw new HarnessError('hard-unavailable', `hard partitions unavailable: ${capability.reason}`);
    this.partitionMode = capability.available ? 'hard' : 'soft';
    if (!capability.available && !softNoticePrinted) {
      softNoticePrinted = true;
      console.warn(`hard partitions unavailable: ${capability.reason}; using soft partitions`);
    }
    this.scratchDir = mkdtempSync(join(tmpdir(), 'engram-cluster-'));
    if (this.partitionMode === 'hard') this.network = await Network.create({ nodes: options.nodes, chromiumPath: options.chromiumPath ?? CHROMIUM_PATH });
    // The nodes reach the host at the root namespace's address on the bridge.
    const hostAddress = this.network?.hostAddress ?? '127.0.0.1';
    this.url = await this.serve(options.app, hostAddress);
    for (let index = 0; index < options.nodes; index++) {
      const profileDir = join(this.scratchDir, `profile-${index}`);
      const { browser, page, id } = await this.launchNode(index, profileDir, undefined);
      this.slots.push({ index, id, page, browser, address: this.network?.nodes[index]?.address, up: true, profileDir });
    }
    this.log(`started ${options.nodes} nodes (${this.partitionMode} partitions) at ${this.url}`);
  }

  private async serve(app: AppSource, hostAddress: string): Promise<string> {
    if ('url' in app) return typeof app.url === 'function' ? app.url(hostAddress) : app.url;
    if ('serve' in app) {
      this.served = await app.serve(hostAddress);
      return this.served.url;
    }
    const server = await startServer({ port: 0, host: hostAddress, staticDir: app.staticDir, log: { info: () => undefined, warn: (line) => this.log(line) } });
    this.served = server;
    return new URL(app.path ?? '/', `http://${hostAddress}:${server.port}/`).href;
  }

  private async launchNode(index: number, profileDir: string, keepId: string | undefined): Promise<{ browser: BrowserContext; page: Page; id: string | undefined }> {
    const options = this.options!;
    const namespaced = this.network?.nodes[index];
    const browser = await chromium.launchPersistentContext(profileDir, {
      executablePath: namespaced?.chromiumWrapper ?? options.chromiumPath ?? CHROMIUM_PATH,
      headless: true,
      args: [
        ...CHROMIUM_ARGS,
        // Over the bridge the page is plain http on a non-loopback address, so not a secure
        // context (no crypto.subtle, no Web Locks), as on a real LAN: no flag pretends otherwise.
        // An app that needs one can pass --unsafely-treat-insecure-origin-as-secure in chromiumArgs.
        ...(options.chromiumArgs ?? []),
      ],
      viewport: { width: 1200, height: 900 },
    });
    if (keepId !== undefined) {
      // A new browser process has no sessionStorage, where openBrowserNode keeps the node id:
      // seed it, as a browser restoring its session would, so the node comes back as itself.
      await browser.addInitScript(
        ([key, id]) => {
          if (sessionStorage.getItem(key) === null) sessionStorage.setItem(key, id);
        },
        [SESSION_ID_KEY, keepId] as const,
      );
    }
    const blank = browser.pages();
    const page = await browser.newPage();
    page.on('pageerror', (error) => console.error(`[node ${index} page error] ${error.message}`));
    try {
      await page.goto(this.url);
      await (options.ready ?? defaultReady)(page);
    } catch (error) {
      await browser.close().catch(() => undefined);
      throw new HarnessError('not-ready', `node ${index} did not get ready at ${this.url}: ${error instanceof Error ? error.message : String(error)}`);
    }
    for (const other of blank) await other.close();
    return { browser, page, id: await engramIdOf(page) };
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
   * IndexedDB survives). With `keepId` (default) an Engram page runs as the same node id and so
   * reopens its own store; without, it joins as a fresh node. Current cuts apply to it.
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
    this.log(`restart node ${index}${id === undefined ? '' : ` as ${id}`} in ${Math.round(performance.now() - startedMs)} ms`);
  }

  /** Closes every browser, the app's server and the network. Safe to call twice, and after a failed start. */
  async close(): Promise<void> {
    const failures: unknown[] = [];
    await Promise.all(this.slots.map((slot) => slot.browser.close().catch((error: unknown) => failures.push(error))));
    this.slots.length = 0;
    await this.served?.close().catch((error: unknown) => failures.push(error));
    this.served = undefined;
    await this.network?.destroy().catch((error: unknown) => failures.push(error));
    this.network = undefined;
    if (this.scratchDir) rmSync(this.scratchDir, { recursive: true, force: true });
    this.scratchDir = undefined;
    if (failures.length > 0) throw new AggregateError(failures, 'closing the cluster failed');
  }

  /**
   * Data-channel bytes between every pair of live nodes over the next `durationMs`, from each
   * Engram node's per-peer counters: `received[to][from]` and `sent[from][to]`. A hard cut shows
   * as `received[to][from] === 0` while `sent[from][to] > 0`: the sender talks, the network
   * drops. Pairs with a node down read 0. Needs `window.engram` on every page.
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
        if (peer === node || peer.id === undefined) continue;
        const was = before[node.index]?.get(peer.id);
        const is = after[node.index]?.get(peer.id);
        if (!was || !is) continue;
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
        this.requireEngram(slot, 'traffic figures');
        const links = await slot.page.evaluate(() => (window as unknown as EngramWindow).engram!.links());
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

  private requireEngram(slot: NodeSlot, what: string): void {
    if (slot.id === undefined) {
      throw new HarnessError('soft-needs-engram', `${what} need the page to expose an Engram node as window.engram (node ${slot.index} has none)${this.mode === 'soft' ? '; hard partitions work without it' : ''}`);
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
    const live = this.slots.filter((slot) => slot.up);
    for (const slot of live) this.requireEngram(slot, 'soft partitions');
    await Promise.all(
      live.map((slot) => {
        const blocked = this.slots.filter((other) => cuts.has(`${other.index}>${slot.index}`)).map((other) => other.id!);
        // One evaluate: heal and block in the same task, so no message slips between them.
        return slot.page.evaluate((ids) => {
          const engram = (window as unknown as EngramWindow).engram!;
          engram.faults.heal();
          engram.faults.block(ids);
        }, blocked);
      }),
    );
  }
}

/** An Engram page tells when its node runs (or failed); any other page is ready at `load`. */
async function defaultReady(page: Page): Promise<void> {
  await page.waitForLoadState('load');
  const engramPage = await page.evaluate(() => document.documentElement.dataset.engramReady !== undefined || 'engram' in window || document.querySelector('engram-app') !== null);
  if (!engramPage) return;
  await page.waitForFunction(() => document.documentElement.dataset.engramReady !== undefined || (window as unknown as EngramWindow).engram !== undefined, undefined, { timeout: 30_000 });
  const error = await page.evaluate(() => (window as unknown as EngramWindow).engramError);
  if (error) throw new Error(`the node failed to start: ${error}`);
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
