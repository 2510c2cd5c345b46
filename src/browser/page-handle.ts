/**
 * The running node of a tab, as `openBrowserNode` returns it and the app exposes it as
 * `window.engram`: the same calls as the core node (remember, recall, get, forget, members,
 * visibility, conflicts, resolve, merkleRoot), `on(event, listener)`, `faults` for soft
 * partitions, `storageStatus()` and `problems()` (failures nothing awaited), and `close()`. Kept stable: it is documented in the README, and Playwright suites
 * and the package's partition harness depend on it.
 */
import type { HealProgress, HealReport } from '../core/heal.js';
import type { Conflict } from '../core/merge.js';
import type { EngramEvents, EngramNode, RecallQuery, RecallResult, Resolution } from '../core/node.js';
import { EngramError } from '../core/errors.js';
import type { Dot, Member, MemoryId, MemoryRecord, NodeId, Visibility } from '../core/types.js';
import type { SignalingClient, SignalingStatus } from '../net/signaling-client.js';
import type { WebRtcTransport } from '../net/webrtc-transport.js';
import type { StorageHealth, StorageStatus } from '../store/storage-health.js';
import type { BackgroundProblem, EngramEvent, EngramHandle, HealStatus, LinkInfo } from '../ui/engram-handle.js';
import type { FaultTransport } from './fault-transport.js';

export interface Faults {
  /** Drop every message to and from these peers in this node's transport (a soft partition). */
  block(peerIds: readonly NodeId[]): void;
  /** Remove every soft fault. */
  heal(): void;
  /** Extra one-way latency on every message (ms). */
  setDelay(delayMs: number): void;
  /** Drop this fraction of messages, in [0, 1]. */
  setLoss(lossRate: number): void;
  blocked(): NodeId[];
}

/** What `on(kind, …)` hands its listener, by event kind. */
export interface BrowserNodeEvents {
  membership: EngramEvents['membership'];
  visibility: EngramEvents['visibility'];
  conflict: EngramEvents['conflict'];
  write: EngramEvents['write'];
  'heal-progress': EngramEvents['heal-progress'];
  heal: EngramEvents['heal'];
  link: { peer: NodeId; state: LinkInfo['state'] };
  /** Whether the signaling server is connected. */
  signaling: boolean;
  /** The storage's state changed (full, lost, failed, ok again, persistence granted, new figures). */
  storage: StorageStatus;
  /** A failure nothing awaited; `problems()` lists them. */
  problem: BackgroundProblem;
}

/** Distinct background problems kept; older ones give way (their count is in the log's total). */
const PROBLEMS_KEPT = 8;

export class PageHandle implements EngramHandle {
  readonly id: NodeId;
  /** See EngramHandle.secureContext: false on plain http from a non-loopback address. */
  readonly secureContext: boolean = globalThis.isSecureContext;
  readonly faults: Faults;
  private readonly listeners = new Set<(event: EngramEvent) => void>();
  private activeHeal: HealProgress | undefined;
  /** One-way sessions this node serves, by session id. */
  private readonly servingHeals = new Map<number, HealProgress>();
  private lastHeal: HealReport | undefined;
  private signalingUp = false;
  private closing: Promise<void> | undefined;
  /** Recent background failures, oldest first, one entry per source and message. */
  private problemLog: BackgroundProblem[] = [];

  constructor(
    readonly room: string,
    private readonly node: EngramNode,
    private readonly transport: WebRtcTransport,
    private readonly faultTransport: FaultTransport,
    private readonly signaling: SignalingClient,
    signalingStatus: { connected: boolean },
    /** Releases what the node ran on (connections, signaling, storage, identity), after it left. */
    private readonly releaseResources: () => void = () => undefined,
    /** The storage's health monitor (storage-health.ts), when the storage has one. */
    private readonly health?: StorageHealth,
  ) {
    this.signalingUp = signalingStatus.connected;
    this.id = node.id;
    this.faults = {
      block: (peers) => faultTransport.block(peers),
      heal: () => faultTransport.heal(),
      setDelay: (ms) => faultTransport.setDelay(ms),
      setLoss: (rate) => faultTransport.setLoss(rate),
      blocked: () => faultTransport.blockedPeers(),
    };
    for (const kind of ['membership', 'visibility', 'conflict', 'write'] as const) {
      node.on(kind, (detail) => this.emit({ kind, detail }));
    }
    node.on('heal-progress', (progress) => {
      // A root comparison that finds nothing to do ('opening' then 'equal') is not shown as a heal.
      if (progress.oneWay && progress.role === 'responder') this.servingHeals.set(progress.session, progress);
      else if (progress.phase !== 'opening') this.activeHeal = progress;
      this.emit({ kind: 'heal-progress', detail: progress });
    });
    node.on('heal', (report) => {
      if (this.activeHeal?.session === report.session) this.activeHeal = undefined;
      this.servingHeals.delete(report.session);
      if (report.outcome !== 'busy' && report.outcome !== 'equal') this.lastHeal = report;
      this.emit({ kind: 'heal', detail: report });
    });
    transport.on('link', (peer, state) => this.emit({ kind: 'link', detail: { peer, state } }));
    signaling.on('status', (connected) => {
      this.signalingUp = connected;
      this.emit({ kind: 'signaling', detail: connected });
    });
    // A refusal or an unreachable server changes what the page should say without changing 'connected'.
    signaling.onStatusChange((status) => {
      if (status.state !== 'connected') this.emit({ kind: 'signaling', detail: status });
    });
    health?.onChange((status) => this.emit({ kind: 'storage', detail: status }));
    health?.onError((error) => this.reportProblem('storage', error));
    node.on('error', ({ error, from }) => {
      // A full or vanished store is the storage status's to say (with figures and what to do);
      // listing each refused write as well would bury it.
      if (error instanceof EngramError && (error.code === 'storage-full' || error.code === 'storage-lost')) return;
      this.reportProblem(from === undefined ? 'node' : 'peer-message', error, from);
    });
    if (node.startError && node.startError.code !== 'storage-full') this.reportProblem('storage', node.startError);
  }

  /**
   * Records a failure nothing awaited, so that it reaches the page (the status area lists
   * `problems()`), not only the console. Also for what runs beside the node, e.g. folding replicas.
   */
  reportProblem(source: BackgroundProblem['source'], error: Error, peer?: NodeId): void {
    const code = (error as { code?: unknown }).code;
    const message = error.cause instanceof Error && !error.message.includes(error.cause.message) ? `${error.message}: ${error.cause.message}` : error.message;
    const index = this.problemLog.findIndex((entry) => entry.source === source && entry.message === message && entry.peer === peer);
    const previous = index >= 0 ? this.problemLog.splice(index, 1)[0] : undefined;
    const entry: BackgroundProblem = {
      source,
      message,
      ...(typeof code === 'string' ? { code } : {}),
      ...(peer !== undefined ? { peer } : {}),
      count: (previous?.count ?? 0) + 1,
      lastAt: this.now(),
    };
    this.problemLog.push(entry);
    if (this.problemLog.length > PROBLEMS_KEPT) this.problemLog.shift();
    this.emit({ kind: 'problem', detail: entry });
  }

  problems(): readonly BackgroundProblem[] {
    return [...this.problemLog];
  }

  /** Persistence, usage and quota, and whether the database is full, lost or failing; 'storage' events announce changes. */
  storageStatus(): StorageStatus {
    return this.health?.status() ?? { state: 'ok', persisted: undefined };
  }

  /** Resolves once the write is durable, with the version it made (its dot: what a history checker tracks). */
  async remember(input: { content: string; tags?: string[]; confidence?: number; id?: MemoryId }): Promise<{ id: MemoryId; dot: Dot }> {
    return this.node.remember(input);
  }

  /** Refused with storage-lost once the database is gone: the node's memory would answer with what is no longer stored. */
  async recall(query: RecallQuery = {}): Promise<RecallResult> {
    this.health?.assertPresent();
    return this.node.recall(query);
  }

  async get(id: MemoryId): Promise<MemoryRecord | undefined> {
    this.health?.assertPresent();
    return this.node.get(id);
  }

  async forget(id: MemoryId): Promise<void> {
    await this.node.forget(id);
  }

  /**
   * Forgotten memories this tab still holds as tombstones, and how many it has deleted for good:
   * a tombstone is collected once it is older than the horizon (a day by default) and every
   * version it wrote over would be recognised if it came back (core/frontier.ts).
   */
  forgetting(): { tombstones: number; collected: number; horizonMs: number } {
    return { tombstones: this.node.tombstones, collected: this.node.stats().tombstonesCollected, horizonMs: this.node.config.tombstoneHorizonMs };
  }

  /** Collects what may be collected now rather than at the next sweep (once a minute); resolves with how many were deleted. */
  collectForgotten(): Promise<number> {
    return this.node.collectTombstones();
  }

  members(): Member[] {
    return this.node.members();
  }

  visibility(): Visibility {
    return this.node.visibility();
  }

  async conflicts(): Promise<Conflict[]> {
    return this.node.conflicts();
  }

  async resolve(id: MemoryId, choice: Resolution): Promise<void> {
    await this.node.resolve(id, choice);
  }

  async merkleRoot(): Promise<string> {
    return this.node.merkleRoot();
  }

  links(): LinkInfo[] {
    return this.transport.links().map((link) => ({
      peer: link.peerId,
      state: link.state,
      bytesIn: link.bytesIn,
      bytesOut: link.bytesOut,
      reconnects: link.reconnects,
      ...(link.lastError ? { lastError: link.lastError } : {}),
      ...(link.lastErrorCode ? { lastErrorCode: link.lastErrorCode } : {}),
    }));
  }

  healStatus(): HealStatus {
    return { active: this.activeHeal, serving: [...this.servingHeals.values()], last: this.lastHeal };
  }

  signalingConnected(): boolean {
    return this.signalingUp;
  }

  /** The signaling client's status: connected, connecting, refused (with the server's reason code) or unreachable. */
  signalingStatus(): SignalingStatus {
    return this.signaling.status();
  }

  now(): number {
    return performance.now();
  }

  subscribe(listener: (event: EngramEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Consolidated gists of this replica. */
  gists(): ReturnType<EngramNode['gists']> {
    return this.node.gists();
  }

  /**
   * The node's own counters: messages and bytes by type, transport traffic, soft-fault drops, SWIM
   * probes. Diagnostics (the testing harness's traffic matrix reads them); the benchmark's own
   * counters are installed by the bench (bench/probe.ts), not carried here.
   */
  stats(): { node: ReturnType<EngramNode['stats']>; transport: ReturnType<WebRtcTransport['stats']>; faults: ReturnType<FaultTransport['stats']>; swim: Readonly<Record<string, number>> } {
    return { node: this.node.stats(), transport: this.transport.stats(), faults: this.faultTransport.stats(), swim: this.node.swimStats() };
  }

  /** Everything a history checker needs of this replica: all records, the root, the conflict queue. */
  snapshot(): { id: NodeId; records: MemoryRecord[]; merkleRoot: string; conflictIds: MemoryId[] } {
    return {
      id: this.id,
      records: [...this.node.allRecords()],
      merkleRoot: this.node.merkleRoot(),
      conflictIds: this.node.conflicts().map((conflict) => conflict.id),
    };
  }

  /** [id, digest] of every record: compares replicas without shipping their records out of the page. */
  digests(): [MemoryId, string][] {
    return this.node.recordDigests();
  }

  /** One kind of event, with its detail typed; returns unsubscribe. `subscribe` hears every kind. */
  on<K extends keyof BrowserNodeEvents>(kind: K, listener: (detail: BrowserNodeEvents[K]) => void): () => void {
    return this.subscribe((event) => {
      if (event.kind === kind) listener(event.detail as BrowserNodeEvents[K]);
    });
  }

  /** Leaves the cluster explicitly (peers stop counting this node at once), then stops the node. */
  leave(): Promise<void> {
    return this.node.leave();
  }

  /**
   * Leaves the cluster, then ends every connection, closes the signaling client and the store,
   * and gives up the node id. Idempotent; the handle answers no calls that need the node after it.
   */
  close(): Promise<void> {
    this.closing ??= this.node.leave().finally(() => {
      this.listeners.clear();
      this.releaseResources();
    });
    return this.closing;
  }

  private emit(event: EngramEvent): void {
    for (const listener of this.listeners) listener(event);
  }
}
