/**
 * An Engram node: one replica of the memory store. It wires membership (SWIM), causality
 * (dotted version vectors), merge, Merkle healing, visibility and partition generations
 * together behind three ports (Transport, Storage, Scheduler) plus seeded randomness, so that
 * the same code runs in a browser tab, in Node and in the deterministic simulator.
 *
 * Writes never wait for the network: a write resolves as soon as Storage has committed it, and
 * is then pushed to the members this node can see. Whatever a push misses, healing repairs.
 *
 * This file is the composition and the replica itself (records, Merkle tree, node clock, local
 * writes and storage); each other mechanism has its module: membership-view.ts (visibility and
 * the generation log), sync-schedule.ts (push, anti-entropy, heal retries), remote-apply.ts
 * (admitting and merging remote data), forgetting.ts (frontier and tombstone collection),
 * generation-gossip.ts, node-events.ts, node-stats.ts.
 *
 * Why it stays one file past 600 lines: what is left is the composition (the constructor wires
 * the mechanisms above to each other and to the ports) and the node's public API, some thirty
 * calls of a few lines each that delegate; splitting those would scatter one class's surface
 * without separating any mechanism.
 */
import { PeerClockCodec } from './clock-codec.js';
import { resolveConfig, type EngramConfig } from './config.js';
import { consolidate, type Gist } from './consolidation.js';
import { recordDigest, toHex } from './digest.js';
import { DecodeError, EngramError } from './errors.js';
import { LIMITS, validateId } from './limits.js';
import { forgottenContent, localVersion, rememberedContent, resolvedContent, type Resolution, type VersionContent } from './local-write.js';
import { Forgetting } from './forgetting.js';
import { GenerationGossip } from './generation-gossip.js';
import { GenerationTracker } from './generation.js';
import { GroupCommit, type Stage } from './group-commit.js';
import type { RecallQuery, RecallResult } from './recall.js';
import { RecallIndex } from './recall-index.js';
import { Healer } from './heal.js';
import { HybridClock } from './hlc.js';
import { addVersion, conflictOf, type Conflict } from './merge.js';
import { MerkleTree } from './merkle.js';
import { MembershipView } from './membership-view.js';
import { NodeEvents, type Emit, type EngramEvents, type Listener } from './node-events.js';
import { NodeCounters, type NodeStats } from './node-stats.js';
import type { Random, Scheduler, Storage, Transport } from './ports.js';
import { RemoteApply } from './remote-apply.js';
import { Swim, type SwimMessage } from './swim.js';
import { SyncSchedule } from './sync-schedule.js';
import type { Dot, GenerationEntry, Member, MemoryId, MemoryRecord, NodeId, NodeState, Version, Visibility, VersionVector } from './types.js';
import { decodeMessage, encodeMessage, type Message } from './wire.js';

export interface RememberInput {
  readonly content: string;
  readonly tags?: readonly string[];
  readonly confidence?: number;
  /** An existing memory's id: writes a new version of it (this is how concurrent edits arise). */
  readonly id?: MemoryId;
}

export type { RecallItem, RecallQuery, RecallResult } from './recall.js';

export type { Resolution } from './local-write.js';

export type { EngramEvents } from './node-events.js';

export type { NodeStats } from './node-stats.js';

export interface EngramNodeOptions {
  readonly id: NodeId;
  readonly transport: Transport;
  readonly storage: Storage;
  readonly scheduler: Scheduler;
  readonly random: Random;
  readonly config?: Partial<EngramConfig>;
  /**
   * What this node actually sends for each message it means to send (default: just that one).
   * The simulator's hostile members (src/sim/hostile.ts) replace and augment their traffic here,
   * so the lies go out through the member's real, authenticated link and decode like its own.
   */
  readonly outgoing?: (to: NodeId, message: Message) => readonly Message[];
}

export class EngramNode {
  readonly id: NodeId;
  readonly config: EngramConfig;
  private readonly transport: Transport;
  private readonly outgoing: ((to: NodeId, message: Message) => readonly Message[]) | undefined;
  private readonly storage: Storage;
  private readonly scheduler: Scheduler;
  private readonly random: Random;
  /** Timestamps of the versions this node writes: past every version it has held (hlc.ts). */
  private readonly hlc: HybridClock;
  private readonly wallNow: () => number;

  private readonly records = new Map<MemoryId, MemoryRecord>();
  /** Answers recall without a scan; kept in step with `records` by install(). */
  private readonly recallIndex = new RecallIndex();
  private readonly tree: MerkleTree;
  private readonly links = new Map<NodeId, PeerClockCodec>();
  private readonly events = new NodeEvents();
  private readonly swim: Swim;
  private readonly healer: Healer;
  private readonly generations: GenerationTracker;
  private readonly gossip: GenerationGossip;
  private readonly view: MembershipView;
  private readonly sync: SyncSchedule;
  private readonly remote: RemoteApply;
  /** The frontier and tombstone collection (forgetting.ts). */
  private readonly forgetting: Forgetting;
  private readonly conflictIds = new Set<MemoryId>();

  /** Highest dot counter seen per origin, over every version this node has held. */
  private clock: Record<NodeId, number> = {};
  /** Highest counter seen per node in any dot or context entry this node admitted (admission.ts). */
  private readonly knownCounters = new Map<NodeId, number>();
  private clockSnapshot: VersionVector | undefined;
  private counter: number;
  private incarnation: number;
  private readonly changes: GroupCommit;
  private gistCache: Gist[] | undefined;
  private running = false;
  private stopped = false;

  private readonly counts = new NodeCounters();
  private readonly counters = this.counts.counters;

  private constructor(options: EngramNodeOptions, state: NodeState, records: MemoryRecord[]) {
    this.id = options.id;
    this.config = resolveConfig(options.config);
    this.transport = options.transport;
    this.outgoing = options.outgoing;
    this.storage = options.storage;
    this.scheduler = options.scheduler;
    this.random = options.random;
    const scheduler = options.scheduler;
    this.wallNow = scheduler.wallNow?.bind(scheduler) ?? (() => scheduler.now());
    this.hlc = new HybridClock(this.wallNow);
    this.counter = state.counter;
    this.incarnation = state.incarnation;
    this.generations = new GenerationTracker(state);
    this.gossip = new GenerationGossip(this.id, this.generations);
    this.view = new MembershipView({
      generations: this.generations,
      scheduler: this.scheduler,
      visibilityPenaltyFloor: this.config.visibilityPenaltyFloor,
      remembered: (state.generations.at(-1)?.visible ?? []).filter((id) => id !== this.id),
      persistState: () => this.persistState(),
      emit: this.emit,
    });
    this.tree = new MerkleTree({ arity: this.config.merkleArity, maxDepth: this.config.merkleMaxDepth });
    this.changes = new GroupCommit({
      record: (id) => this.records.get(id),
      counter: () => this.counter,
      commit: (batch, removed, counter) => this.commit(batch, removed, counter),
      install: (batch, removed, counter) => {
        this.counter = counter;
        for (const record of batch) this.install(record);
        if (removed.length > 0) this.uninstall(removed);
      },
      maxRecords: this.config.groupCommitMaxRecords,
      afterFailed: (error) => this.emit('error', { error: error instanceof Error ? error : new Error(String(error)) }),
      // Pushes go out on the round's durability, gathered only under sustained load (sync-schedule.ts).
      afterRound: (moreWaiting) => this.sync.afterRound(moreWaiting),
    });
    this.forgetting = new Forgetting({
      self: this.id,
      config: this.config,
      scheduler: this.scheduler,
      changes: this.changes,
      wallNow: this.wallNow,
      counter: () => this.counter,
      known: (node) => this.knownCounters.get(node) ?? 0,
      record: (id) => this.records.get(id),
      dropObsolete: (ids, peerFrontier) => this.remote.dropObsolete(ids, peerFrontier),
      persistState: () => this.persistState(),
      counters: this.counters,
      stopped: () => this.stopped,
      stored: state.frontier,
    });
    for (const record of records) this.install(record);
    this.remote = new RemoteApply({
      self: this.id,
      changes: this.changes,
      hlc: this.hlc,
      // A member we have a link to is known by its own word: what its link header says it holds of
      // itself (only it speaks on its link, peer-auth.ts). Without that, a writer whose counter
      // leapt past a forgery (reassert, leapPast) was refused for good by every replica that knew
      // less of it (hostile fuzz, seed 15). And only by its word: knowledge taken from admitted
      // versions let a liar ratchet it counterLeap at a time to the bound in minutes (seed 1 at
      // 5 min), after which forged dots near the bound were admitted everywhere but by their
      // victim. Writers we never linked to (members long gone) are known from what we admitted.
      knownCounter: (node) => this.links.get(node)?.peerClock()[node] ?? this.knownCounters.get(node) ?? 0,
      // Without a wall clock (a bare test scheduler) there is nothing to judge timestamps by.
      wallNowMs: () => scheduler.wallNow?.() ?? Number.POSITIVE_INFINITY,
      record: (id) => this.records.get(id),
      generation: () => this.generations.current,
      push: (id, record) => this.sync.push(id, record),
      frontier: () => this.forgetting.frontier(),
      cutoff: () => this.forgetting.cutoff(),
      counters: this.counters,
      stopped: () => this.stopped,
      emit: this.emit,
    });
    this.swim = new Swim({
      self: this.id,
      incarnation: this.incarnation,
      config: this.config,
      scheduler: this.scheduler,
      random: this.random,
      send: (to, message) => this.sendSwim(to, message),
      events: {
        onMemberChange: (member, previous) => this.onMemberChange(member, previous, false),
        onMemberReaped: (id) => this.onMemberReaped(id),
        onIncarnation: (incarnation) => this.onIncarnation(incarnation),
      },
    });
    this.healer = new Healer({
      self: this.id,
      config: this.config,
      scheduler: this.scheduler,
      random: this.random,
      tree: this.tree,
      record: (id) => this.records.get(id),
      send: (peer, message) => this.send(peer, message),
      apply: (incoming, peer, peerFrontier) => this.remote.apply(incoming, peer, peerFrontier),
      frontier: () => this.forgetting.frontier(),
      learnFrontier: (_peer, frontier) => this.forgetting.learn(frontier),
      shipOrDrop: (ids, peerFrontier) => this.forgetting.shipOrDrop(ids, peerFrontier),
      generationLogs: () => this.gossip.logs(),
      learnGenerations: (logs) => this.gossip.learn(logs),
      generationEntry: (node, generation) => this.gossip.entry(node, generation),
      progress: (progress) => this.emit('heal-progress', progress),
      finished: (report) => {
        this.emit('heal', report);
        this.sync.healFinished(report);
      },
    });
    this.sync = new SyncSchedule({
      self: this.id,
      config: this.config,
      scheduler: this.scheduler,
      random: this.random,
      healer: this.healer,
      members: () => this.swim.members(),
      clock: () => this.clock,
      peerClock: (peer) => this.peerClock(peer),
      send: (to, message) => this.send(to, message),
      stopped: () => this.stopped,
      running: () => this.running,
    });
    for (const member of this.swim.members()) this.view.track(member.id, member.state);
    this.view.settle();
    this.transport.onMessage((from, bytes) => this.receive(from, bytes));
  }


  /**
   * Opens a node on its storage: an existing node comes back with its memories, its dot counter
   * (so it never reuses a dot), a higher incarnation (so stale suspicions of it are refuted) and
   * its generation log.
   */
  static async open(options: EngramNodeOptions): Promise<EngramNode> {
    validateId(options.id, 'node id');
    const stored = await options.storage.loadState();
    if (stored && stored.nodeId !== options.id) {
      throw new EngramError('invalid-argument', `storage belongs to node ${stored.nodeId}, not ${options.id}`);
    }
    const state: NodeState = {
      nodeId: options.id,
      counter: stored?.counter ?? 0,
      // Capped like every incarnation (swim.ts apply): at the bound a restart reuses it, and refutes as before.
      incarnation: Math.min((stored?.incarnation ?? -1) + 1, LIMITS.counter),
      generation: stored?.generation ?? 0,
      generations: stored?.generations ?? [],
    };
    let startError: EngramError | undefined;
    try {
      await options.storage.commit({ state });
    } catch (cause) {
      // A full store must still open and read. Only the raised incarnation goes unrecorded, so
      // the next start may reuse it (SWIM refutes by raising it again); the dot counter is safe,
      // since no write can be durable without the state it carries.
      if (!(cause instanceof EngramError && cause.code === 'storage-full')) {
        throw new EngramError('storage-failed', 'could not record the node start in storage', { cause });
      }
      startError = cause;
    }
    const records = await options.storage.loadRecords();
    const node = new EngramNode(options, state, records);
    node.startError = startError;
    return node;
  }

  /** Why the start could not be recorded (a full store), if it could not: the node runs, reads, and refuses writes. */
  startError: EngramError | undefined;

  /**
   * Merges records that come from this browser rather than from a peer (a folded replica's
   * database): the same canonicalization, merge, durable commit and events as records a peer
   * sends; healing then spreads them. Resolves with how many versions were new here.
   */
  async absorb(records: readonly MemoryRecord[]): Promise<number> {
    this.assertRunning();
    return (await this.remote.apply(records, this.id)).length;
  }

  /** Joins the cluster through `seeds` (any members already known; more can be added later with addPeers). */
  start(seeds: readonly NodeId[] = []): void {
    if (this.stopped) throw new EngramError('stopped', 'this node was stopped; open a new one');
    if (this.running) return this.addPeers(seeds);
    this.running = true;
    this.swim.start(seeds.filter((seed) => seed !== this.id));
    this.view.start(this.config.reapAfterMs);
    this.sync.start();
    this.forgetting.start();
    this.view.refresh();
  }

  /**
   * Peers found later (e.g. by the signaling server, or a transport link that opened): new ones are
   * contacted and join the membership; known ones held dead are probed at once, since a link that
   * has just opened to one is the first sign that a partition healed.
   */
  addPeers(peers: readonly NodeId[]): void {
    if (!this.running) return;
    const fresh = peers.filter((peer) => peer !== this.id && this.swim.member(peer) === undefined);
    if (fresh.length > 0) this.swim.start(fresh);
    for (const peer of peers) if (peer !== this.id) this.swim.reachable(peer);
  }

  /** Leaves the cluster explicitly (other nodes stop counting this one), then stops. */
  async leave(): Promise<void> {
    if (this.stopped) return;
    this.sync.flushPush();
    this.swim.leave();
    await this.changes.idle();
    this.stop();
  }

  /**
   * This node is about to be suspended (a browser tab's `freeze`): local writes still waiting go
   * out, and the peers are told it sleeps, so they show it as sleeping rather than failed. It
   * keeps answering whatever reaches it until it is actually frozen.
   */
  suspend(): void {
    if (!this.running) return;
    this.sync.flushPush();
    this.swim.suspend();
  }

  /** Back from suspend(): rejoins (peers see it alive at once) and heals what it missed, now. */
  resume(): void {
    if (!this.running || !this.swim.isSuspended) return;
    this.swim.resume();
    this.sync.resumed();
  }

  /** Stops every timer and ignores the network from now on (a crash, as far as peers can tell). */
  stop(): void {
    this.stopped = true;
    this.running = false;
    this.swim.stop();
    this.healer.stop();
    this.sync.stop();
    this.view.stop();
    this.forgetting.stop();
  }

  get isStopped(): boolean {
    return this.stopped;
  }

  // ---------------------------------------------------------------- public calls

  /** Writes a memory (or a new version of an existing one); resolves once it is durable. */
  async remember(input: RememberInput): Promise<{ id: MemoryId; dot: Dot }> {
    const content = rememberedContent(input);
    if (input.id !== undefined) validateId(input.id);
    return this.writeLocal(() => ({ id: input.id ?? this.newMemoryId(), content }));
  }

  /** Forgets a memory: writes a tombstone that supersedes what this node has seen of it. */
  async forget(id: MemoryId): Promise<{ id: MemoryId; dot: Dot }> {
    validateId(id);
    return this.writeLocal((stage) => ({ id, content: forgottenContent(id, stage.record(id)) }));
  }

  /** Resolves a conflict by writing a version that supersedes every sibling. */
  async resolve(id: MemoryId, resolution: Resolution): Promise<{ id: MemoryId; dot: Dot }> {
    validateId(id);
    return this.writeLocal((stage) => ({ id, content: resolvedContent(id, stage.record(id), resolution) }));
  }

  /** The record with all its siblings, or undefined. */
  async get(id: MemoryId): Promise<MemoryRecord | undefined> {
    return this.records.get(id);
  }

  /** The record as held right now, synchronously (checkers that follow every `write` event read it here). */
  record(id: MemoryId): MemoryRecord | undefined {
    return this.records.get(id);
  }

  /** Live memories matching the query, each with its original and visibility-adjusted confidence. */
  recall(query: RecallQuery = {}): RecallResult {
    return this.recallIndex.recall(query, this.visibility(), (record) => this.conflictIds.has(record.id));
  }

  members(): Member[] {
    return this.swim.members();
  }

  visibility(): Visibility {
    return this.view.visibility;
  }

  /** The review queue: records whose concurrent siblings differ with close confidences. */
  conflicts(): Conflict[] {
    const out: Conflict[] = [];
    for (const id of [...this.conflictIds].sort()) {
      const record = this.records.get(id);
      const conflict = record && conflictOf(record, this.config.conflictConfidenceMargin);
      if (conflict) out.push(conflict);
    }
    return out;
  }

  /** Hex Merkle root: equal on replicas that hold the same records. */
  merkleRoot(): string {
    return this.tree.rootHex();
  }

  /** Local consolidation (deterministic: healed replicas produce the same gists). */
  gists(): Gist[] {
    this.gistCache ??= consolidate(this.records.values());
    return this.gistCache;
  }

  /** Every record this node holds (for checkers and the UI). */
  allRecords(): IterableIterator<MemoryRecord> {
    return this.records.values();
  }

  /** Each record's digest (hex), as the Merkle tree holds it: a cheap fingerprint of the replica, for benchmarks. */
  recordDigests(): [MemoryId, string][] {
    const out: [MemoryId, string][] = [];
    for (const id of this.records.keys()) out.push([id, toHex(this.tree.digestOf(id) as Uint8Array)]);
    return out;
  }

  get recordCount(): number {
    return this.records.size;
  }

  /** This node's partition generation log. */
  generationLog(): readonly GenerationEntry[] {
    return this.generations.log;
  }

  get healing(): NodeId | undefined {
    return this.healer.activePeer;
  }

  get health(): number {
    return this.swim.health;
  }

  stats(): NodeStats {
    return this.counts.snapshot(this.changes.stats);
  }

  swimStats(): Readonly<Record<string, number>> {
    return this.swim.stats;
  }

  /** Our view of a peer's node clock (from the headers it sent). */
  peerClock(peer: NodeId): VersionVector {
    return this.links.get(peer)?.peerClock() ?? {};
  }

  nodeClock(): VersionVector {
    this.clockSnapshot ??= Object.freeze({ ...this.clock });
    return this.clockSnapshot;
  }

  on<K extends keyof EngramEvents>(event: K, listener: Listener<EngramEvents[K]>): () => void {
    return this.events.on(event, listener);
  }

  // ---------------------------------------------------------------- writes

  /**
   * A local write: `decide` picks the memory and its new content from the state as every write
   * queued before it leaves it (group-commit.ts), then the new version gets the next dot. Resolves
   * once the version is durable.
   */
  private writeLocal(decide: (stage: Stage) => { id: MemoryId; content: VersionContent }): Promise<{ id: MemoryId; dot: Dot }> {
    return this.changes.submit({
      plan: (stage) => {
        this.assertRunning();
        const { id, content } = decide(stage);
        const current = stage.record(id);
        // Every sibling of `current` was observed when it was installed or staged: now > all of them.
        const now = this.hlc.now();
        const dot: Dot = { node: this.id, counter: stage.counter + 1 };
        // Dots past LIMITS.counter cannot be decoded anywhere: refuse the write rather than acknowledge one no peer can read.
        if (dot.counter > LIMITS.counter) throw new EngramError('limit-reached', `this node has issued all ${LIMITS.counter} of its dots`);
        const version = localVersion(current, content, { dot, nowMs: now, author: this.id, generation: this.generations.current });
        stage.put(addVersion(current, id, version));
        stage.counter = dot.counter;
        return { id, dot };
      },
      after: ({ id }) => {
        this.sync.push(id, this.records.get(id) as MemoryRecord);
        this.emit('write', { id, local: true });
      },
    });
  }

  /** Persists the node's own state (incarnation, generation log) with the next round of changes. */
  private persistState(): void {
    void this.changes.submit({ plan: () => undefined, persist: true }).catch(() => undefined);
  }

  private async commit(records: readonly MemoryRecord[], removed: readonly MemoryId[], counter: number): Promise<void> {
    const startedMs = this.scheduler.now();
    try {
      // The state carries the frontier: a deletion is durable only with the frontier that made it safe.
      await this.storage.commit({ records, ...(removed.length > 0 ? { removed } : {}), state: this.persistentState(counter) });
    } catch (cause) {
      // The storage adapter's typed errors already say what happened in words a person can act on
      // (full, lost, or why the browser refused); only an untyped failure gets a generic message.
      const error =
        cause instanceof EngramError
          ? cause
          : new EngramError('storage-failed', `storage refused a write of ${records.length} record(s): ${String(cause)}`, { cause });
      this.emit('error', { error });
      throw error;
    } finally {
      this.counters.commitMs += this.scheduler.now() - startedMs;
    }
  }

  private persistentState(counter: number): NodeState {
    return {
      nodeId: this.id,
      counter,
      incarnation: this.incarnation,
      generation: this.generations.current,
      generations: this.generations.log,
      frontier: this.forgetting.stored,
    };
  }

  // ---------------------------------------------------------------- forgetting (frontier.ts)

  /** Collects forgotten memories now rather than at the next sweep; resolves with how many were deleted. */
  collectTombstones(): Promise<number> {
    this.assertRunning();
    return this.forgetting.collect();
  }

  /** Forgotten memories held until they can be collected. */
  get tombstones(): number {
    return this.forgetting.tombstones;
  }

  /** This node's frontier, its own entry included (frontier.ts). */
  frontierNow(): VersionVector {
    return this.forgetting.frontier();
  }

  /** Puts a committed record into memory, the Merkle tree, the node clock and the conflict queue. */
  private install(record: MemoryRecord): void {
    this.records.set(record.id, record);
    this.recallIndex.set(record);
    this.tree.set(record.id, recordDigest(record));
    this.forgetting.track(record.id, record);
    for (const sibling of record.siblings) {
      this.hlc.observe(sibling.writtenAt);
      this.advanceClock(sibling.dot);
      this.learnCounters(sibling);
    }
    this.gistCache = undefined;
    const conflict = conflictOf(record, this.config.conflictConfidenceMargin);
    const had = this.conflictIds.has(record.id);
    if (conflict) this.conflictIds.add(record.id);
    else this.conflictIds.delete(record.id);
    if (conflict || had) this.emit('conflict', { id: record.id, conflict });
  }

  /** Takes deleted records out of memory, the Merkle tree, the recall index and the conflict queue. */
  private uninstall(ids: readonly MemoryId[]): void {
    for (const id of ids) {
      this.records.delete(id);
      this.recallIndex.delete(id);
      this.tree.set(id, undefined);
      this.forgetting.track(id, undefined);
      if (this.conflictIds.delete(id)) this.emit('conflict', { id, conflict: undefined });
    }
    this.gistCache = undefined;
    this.emit('collected', { ids });
  }

  private learnCounters(version: Version): void {
    const known = this.knownCounters;
    if ((known.get(version.dot.node) ?? 0) < version.dot.counter) known.set(version.dot.node, version.dot.counter);
    for (const node of Object.keys(version.context)) {
      const counter = version.context[node] as number;
      if ((known.get(node) ?? 0) < counter) known.set(node, counter);
    }
  }

  private advanceClock(dot: Dot): void {
    if ((this.clock[dot.node] ?? 0) < dot.counter) {
      this.clock[dot.node] = dot.counter;
      this.clockSnapshot = undefined;
    }
  }

  private newMemoryId(): MemoryId {
    // Unique without coordination: our dots are unique, and the random suffix keeps ids unguessable-ish and spread.
    const suffix = this.random.int(0x7fffffff).toString(36);
    return `${this.id}.${(this.counter + 1).toString(36)}.${suffix}`;
  }

  // ---------------------------------------------------------------- membership

  private onMemberChange(member: Member, previous: Member | undefined, reaped: boolean): void {
    this.emit('membership', { member, previous, reaped });
    if (member.id === this.id) return;
    const cameBack = member.state === 'alive' && previous !== undefined && previous.state !== 'alive';
    // Back from a partition (or a false suspicion): it may hold writes we lack and lack ours.
    if (cameBack) this.sync.cameBack(member.id);
    // Only an explicit leave ends a heal at once. 'dead' may be a busy peer falsely accused (a heal
    // on a loaded machine is exactly when that happens); one really gone is silent, and the
    // session's step timer gives up on it within healStepTimeoutMs.
    if (member.state === 'left') this.healer.peerGone(member.id);
    this.view.track(member.id, member.state);
    this.view.refresh();
  }

  private onMemberReaped(id: NodeId): void {
    this.links.delete(id);
    this.gossip.forget(id);
    this.healer.peerGone(id);
    this.view.track(id, undefined);
    this.view.refresh();
  }

  private onIncarnation(incarnation: number): void {
    this.incarnation = incarnation;
    this.persistState();
  }

  // ---------------------------------------------------------------- wire

  private link(peer: NodeId): PeerClockCodec {
    let link = this.links.get(peer);
    if (!link) this.links.set(peer, (link = new PeerClockCodec()));
    return link;
  }

  private sendSwim(to: NodeId, swim: SwimMessage): void {
    this.send(to, { type: 'swim', swim });
  }

  private send(to: NodeId, message: Message): number {
    if (this.stopped) return 0;
    if (this.outgoing) return this.outgoing(to, message).reduce((bytes, each) => bytes + this.sendOne(to, each), 0);
    return this.sendOne(to, message);
  }

  private sendOne(to: NodeId, message: Message): number {
    const encoded = encodeMessage(this.link(to), this.nodeClock(), message);
    this.counts.sent(message, encoded);
    this.transport.send(to, encoded.bytes, message.type === 'replicate' || message.type === 'heal-records' ? 'bulk' : 'control');
    return encoded.bytes.length;
  }

  private receive(from: NodeId, bytes: Uint8Array): void {
    if (this.stopped || !this.running || from === this.id) return;
    const link = this.link(from);
    let message: Message;
    let clockDelta: VersionVector;
    try {
      ({ message, clockDelta } = decodeMessage(link, bytes));
    } catch (error) {
      this.counters.decodeErrors += 1;
      if (error instanceof DecodeError) {
        if (error.code === 'unknown-node-ref') link.requestReset();
        this.emit('error', { error, from });
        return;
      }
      throw error;
    }
    this.counts.received(bytes.length);
    this.swim.heard(from);
    this.sync.heard(clockDelta);
    switch (message.type) {
      case 'swim':
        this.swim.handle(from, message.swim);
        break;
      case 'replicate':
        void this.remote.apply(message.records, from).catch(() => undefined);
        break;
      default:
        this.healer.handle(from, message, bytes.length);
    }
  }

  /** Bound, so the mechanisms can be handed it. */
  private readonly emit: Emit = (event, payload) => this.events.emit(event, payload);

  private assertRunning(): void {
    if (this.stopped) throw new EngramError('stopped', 'this node was stopped');
  }
}
