/**
 * A simulated cluster: N Engram nodes on one virtual clock, an in-memory network and in-memory
 * storage that survives crashes. Everything random comes from one seed, so a run replays exactly.
 */
import type { EngramConfig } from '../core/config.js';
import { EngramNode } from '../core/node.js';
import type { Scheduler } from '../core/ports.js';
import { SeededRandom } from '../core/random.js';
import type { NodeId } from '../core/types.js';
import type { Message } from '../core/wire.js';
import { MemoryStorage } from '../store/memory-storage.js';
import { DEFAULT_LINK, SimNetwork, type LinkProfile } from './network.js';
import { VirtualScheduler, type EscapedError } from './scheduler.js';

export interface ClusterOptions {
  readonly nodes: number;
  readonly seed: number;
  readonly config?: Partial<EngramConfig>;
  readonly link?: Partial<LinkProfile>;
  /** Virtual latency of a storage commit (IndexedDB commits take ~1 ms). */
  readonly storageLatencyMs?: number;
  /**
   * Each node's wall clock is off by a seeded amount in [-clockSkewMs, clockSkewMs] (default 2 min:
   * laptops that missed NTP for a while), so hybrid timestamps are tested against skew.
   */
  readonly clockSkewMs?: number;
  /**
   * The last `standby` nodes are not opened by create(): their storage exists (a test may fill it)
   * and restart(index) brings each up later, e.g. as a node joining an established cluster.
   */
  readonly standby?: number;
  /** Rewrites what node `index` sends (hostile members, src/sim/hostile.ts); undefined: it sends what it means to. */
  readonly outgoing?: (index: number) => ((to: NodeId, message: Message) => readonly Message[]) | undefined;
}

/** Wall-clock time at virtual time 0: a fixed date, so runs replay exactly. */
export const SIM_EPOCH_MS = Date.UTC(2026, 0, 1);
const DEFAULT_CLOCK_SKEW_MS = 120_000;

/** Lets every promise continuation triggered by the last timer run before the next timer fires. */
function drainMicrotasks(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** A condition a test or a settle waited for did not hold in time: the run failed, it did not just take long. */
export class SimTimeoutError extends Error {
  constructor(
    readonly maxMs: number,
    readonly atMs: number,
  ) {
    super(`the awaited condition did not hold within ${maxMs} virtual ms (at ${atMs} ms)`);
    this.name = 'SimTimeoutError';
  }
}

export class SimCluster {
  readonly scheduler = new VirtualScheduler();
  readonly random: SeededRandom;
  readonly network: SimNetwork;
  readonly ids: NodeId[];
  readonly storages: MemoryStorage[];
  readonly nodes: (EngramNode | undefined)[];
  /** Each node's wall-clock error (ms): its wall clock reads SIM_EPOCH_MS + virtual time + this. */
  readonly skewsMs: number[];
  private readonly config: Partial<EngramConfig>;
  /** Called with every node instance when it is opened (first start and every restart). */
  onNodeOpened: ((index: number, node: EngramNode) => void) | undefined;

  private constructor(readonly options: ClusterOptions) {
    this.random = new SeededRandom(options.seed);
    this.network = new SimNetwork(this.scheduler, this.random.fork(), { ...DEFAULT_LINK, ...options.link });
    this.ids = Array.from({ length: options.nodes }, (_, i) => `n${i}`);
    this.storages = this.ids.map(() => new MemoryStorage({ scheduler: this.scheduler, commitLatencyMs: options.storageLatencyMs ?? 1 }));
    this.nodes = this.ids.map(() => undefined);
    // Its own stream: drawing skews from this.random would change every seed's run.
    const skews = new SeededRandom(options.seed ^ 0x2c1b3c6d);
    const maxSkewMs = options.clockSkewMs ?? DEFAULT_CLOCK_SKEW_MS;
    this.skewsMs = this.ids.map(() => Math.round((skews.next() * 2 - 1) * maxSkewMs));
    this.config = options.config ?? {};
  }

  static async create(options: ClusterOptions): Promise<SimCluster> {
    const cluster = new SimCluster(options);
    const opened = options.nodes - (options.standby ?? 0);
    for (let i = 0; i < opened; i++) await cluster.open(i);
    for (let i = 0; i < opened; i++) cluster.nodes[i]?.start(cluster.seedsFor(i));
    return cluster;
  }

  private async open(index: number): Promise<EngramNode> {
    const id = this.ids[index] as NodeId;
    const transport = this.network.attach(id);
    const opening = EngramNode.open({
      id,
      transport,
      storage: this.storages[index] as MemoryStorage,
      scheduler: this.nodeScheduler(index),
      random: this.random.fork(),
      config: this.config,
      ...(this.options.outgoing?.(index) ? { outgoing: this.options.outgoing(index) } : {}),
    });
    // Opening commits to storage, which takes virtual time: keep the clock moving until it resolves.
    let node: EngramNode | undefined;
    void opening.then((opened) => (node = opened));
    while (!node) {
      await drainMicrotasks();
      if (!node && !this.scheduler.step()) await drainMicrotasks();
    }
    this.nodes[index] = node;
    this.onNodeOpened?.(index, node);
    return node;
  }

  /** The shared virtual scheduler, seen through node `index`'s skewed wall clock. */
  private nodeScheduler(index: number): Scheduler {
    const shared = this.scheduler;
    const skewMs = this.skewsMs[index] ?? 0;
    return {
      now: () => shared.now(),
      setTimer: (delayMs, fn) => shared.setTimer(delayMs, fn),
      wallNow: () => SIM_EPOCH_MS + shared.now() + skewMs,
    };
  }

  /**
   * Like the signaling server, a small room tells every node about everyone. A large simulated
   * cluster joins through a few seeds instead (node 0 plus three random others): membership then
   * spreads by gossip, and start-up does not cost n^2 join messages.
   */
  seedsFor(index: number): NodeId[] {
    const others = this.ids.filter((_, j) => j !== index);
    if (others.length <= 16) return others;
    const seeds = new Set<NodeId>([this.ids[0] as NodeId]);
    while (seeds.size < 4) seeds.add(this.ids[this.random.int(this.ids.length)] as NodeId);
    seeds.delete(this.ids[index] as NodeId);
    return [...seeds];
  }

  node(index: number): EngramNode {
    const node = this.nodes[index];
    if (!node) throw new Error(`node ${index} is down`);
    return node;
  }

  liveIndexes(): number[] {
    return this.nodes.flatMap((node, i) => (node && !node.isStopped ? [i] : []));
  }

  get now(): number {
    return this.scheduler.now();
  }

  /** Advances virtual time by `ms`, running every timer and every continuation in order. */
  async run(ms: number): Promise<void> {
    const until = this.scheduler.now() + ms;
    for (;;) {
      const next = this.scheduler.peekTime();
      if (next === undefined || next > until) break;
      this.scheduler.step();
      await drainMicrotasks();
    }
    this.scheduler.runUntil(until);
    await drainMicrotasks();
  }

  /**
   * Runs until `done()` holds (checked every `stepMs`) or `maxMs` passed; returns the time it took,
   * or undefined if it never held: for measurements, which report a timeout as a figure (null).
   */
  async timeUntil(done: () => boolean, maxMs: number, stepMs = 10): Promise<number | undefined> {
    const start = this.now;
    while (this.now - start <= maxMs) {
      if (done()) return this.now - start;
      await this.run(stepMs);
    }
    return done() ? this.now - start : undefined;
  }

  /** Runs until `done()` holds (checked every `stepMs`); returns the time it took, and throws if it did not hold within `maxMs`. */
  async runUntil(done: () => boolean, maxMs: number, stepMs = 10): Promise<number> {
    const tookMs = await this.timeUntil(done, maxMs, stepMs);
    if (tookMs === undefined) throw new SimTimeoutError(maxMs, this.now);
    return tookMs;
  }

  /** Advances virtual time until `promise` settles (core calls need time to pass: storage commits take virtual ms). */
  async settle<T>(promise: Promise<T>, maxMs = 60_000): Promise<T> {
    let settled = false;
    promise.then(
      () => (settled = true),
      () => (settled = true),
    );
    await this.runUntil(() => settled, maxMs, 1);
    return promise;
  }

  /** Kills node `index` without a goodbye: timers stop, in-flight messages and commits are lost. */
  crash(index: number): void {
    const node = this.nodes[index];
    if (!node) return;
    node.stop();
    this.storages[index]?.crash();
    this.network.detach(this.ids[index] as NodeId);
    this.nodes[index] = undefined;
  }

  /** Starts node `index` again from what its storage holds. */
  async restart(index: number): Promise<EngramNode> {
    if (this.nodes[index]) this.crash(index);
    const node = await this.open(index);
    node.start(this.seedsFor(index));
    return node;
  }

  partition(groups: readonly (readonly number[])[]): void {
    this.network.partition(groups.map((group) => group.map((i) => this.ids[i] as NodeId)));
  }

  /** Messages from `from` nodes to `to` nodes are dropped; the other direction still flows. */
  cutOneWay(from: readonly number[], to: readonly number[]): void {
    for (const a of from) for (const b of to) this.network.cut(this.ids[a] as NodeId, this.ids[b] as NodeId);
  }

  heal(): void {
    this.network.healAll();
  }

  /** Exceptions that escaped a timer or a message handler so far (each is a bug). */
  get escaped(): readonly EscapedError[] {
    return this.scheduler.escaped;
  }

  /** Every live node has the same Merkle root. */
  converged(): boolean {
    const roots = new Set(this.liveIndexes().map((i) => this.node(i).merkleRoot()));
    return roots.size <= 1;
  }
}
