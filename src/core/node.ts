/**
 * An Engram node: one replica of the memory store. It wires membership (SWIM), causality
 * (dotted version vectors), merge, Merkle healing, visibility and partition generations
 * together behind three ports (Transport, Storage, Scheduler) plus seeded randomness, so that
 * the same code runs in a browser tab, in Node and in the deterministic simulator.
 *
 * Writes never wait for the network: a write resolves as soon as Storage has committed it, and
 * is then pushed to the members this node can see. Whatever a push misses, healing repairs.
 */
import { PeerClockCodec } from './clock-codec.js';
import { resolveConfig, type EngramConfig } from './config.js';
import { consolidate, type Gist } from './consolidation.js';
import { recordDigest, toHex } from './digest.js';
import { reassertionFloor, refusalOf, type AdmissionView, type Refusal } from './admission.js';
import { DecodeError, EngramError } from './errors.js';
import { LIMITS, validateId } from './limits.js';
import { forgottenContent, localVersion, rememberedContent, resolvedContent, type Resolution, type VersionContent } from './local-write.js';
import { GenerationTracker } from './generation.js';
import { GroupCommit, type GroupCommitStats, type Stage } from './group-commit.js';
import type { RecallQuery, RecallResult } from './recall.js';
import { RecallIndex } from './recall-index.js';
import { Healer, type HealProgress, type HealReport } from './heal.js';
import { HybridClock } from './hlc.js';
import { addVersion, canonicalSiblings, conflictOf, includes, mergeRecords, recordContext, shownVersion, type Conflict } from './merge.js';
import { MerkleTree } from './merkle.js';
import type { Random, Scheduler, Storage, TimerHandle, Transport } from './ports.js';
import { shuffled } from './random.js';
import { Swim, type SwimMessage } from './swim.js';
import type { Dot, GenerationEntry, Member, MemberState, MemoryId, MemoryRecord, NodeId, NodeState, Version, Visibility, VersionVector } from './types.js';
import { dotKey, withDot } from './vector-clock.js';
import { penaltyFactor } from './visibility.js';
import { decodeMessage, encodeMessage, type GenerationLog, type Message } from './wire.js';

export interface RememberInput {
  readonly content: string;
  readonly tags?: readonly string[];
  readonly confidence?: number;
  /** An existing memory's id: writes a new version of it (this is how concurrent edits arise). */
  readonly id?: MemoryId;
}

export type { RecallItem, RecallQuery, RecallResult } from './recall.js';

export type { Resolution } from './local-write.js';

export interface NodeStats {
  readonly messagesSent: number;
  readonly bytesSent: number;
  readonly messagesReceived: number;
  readonly bytesReceived: number;
  readonly decodeErrors: number;
  /** Remote versions refused by admission (admission.ts) or that could not be merged; each was skipped, the rest of its batch applied. */
  readonly refusedVersions: number;
  /** Records of this node's own re-asserted over a forged version of one of its dots or contexts. */
  readonly reassertions: number;
  readonly commitMs: number;
  /** Storage commits (rounds of group commit) and the changes and records they carried. */
  readonly commits: GroupCommitStats;
  readonly byType: Readonly<Record<string, { count: number; bytes: number }>>;
  /** Histogram: bytes of the vector clock each sent message carries (its link header) → messages. */
  readonly clockBytes: ReadonlyMap<number, number>;
  /** Histogram: bytes of causal metadata (dot + context) per replicated version sent → versions. */
  readonly versionClockBytes: ReadonlyMap<number, number>;
}

export interface EngramEvents {
  membership: { member: Member; previous: Member | undefined; reaped: boolean };
  visibility: Visibility;
  conflict: { id: MemoryId; conflict: Conflict | undefined };
  write: { id: MemoryId; local: boolean };
  'heal-progress': HealProgress;
  heal: HealReport;
  error: { error: Error; from?: NodeId };
}

type Listener<T> = (event: T) => void;

export interface EngramNodeOptions {
  readonly id: NodeId;
  readonly transport: Transport;
  readonly storage: Storage;
  readonly scheduler: Scheduler;
  readonly random: Random;
  readonly config?: Partial<EngramConfig>;
}

export class EngramNode {
  readonly id: NodeId;
  readonly config: EngramConfig;
  private readonly transport: Transport;
  private readonly storage: Storage;
  private readonly scheduler: Scheduler;
  private readonly random: Random;
  /** Timestamps of the versions this node writes: past every version it has held (hlc.ts). */
  private readonly hlc: HybridClock;

  private readonly records = new Map<MemoryId, MemoryRecord>();
  /** Answers recall without a scan; kept in step with `records` by install(). */
  private readonly recallIndex = new RecallIndex();
  private readonly tree: MerkleTree;
  private readonly links = new Map<NodeId, PeerClockCodec>();
  private readonly listeners = new Map<keyof EngramEvents, Set<Listener<never>>>();
  private readonly swim: Swim;
  private readonly healer: Healer;
  private readonly generations: GenerationTracker;
  private readonly knownGenerations = new Map<NodeId, readonly GenerationEntry[]>();
  private readonly conflictIds = new Set<MemoryId>();
  /** Last known state of every member (self included), kept so visibility is O(1) per change, not O(members). */
  private readonly memberStates = new Map<NodeId, MemberState>();
  private visibleCount = 0;
  private countableCount = 0;
  private sleepingCount = 0;
  /**
   * Members this node saw before it was (re)opened that SWIM has not heard of yet: counted in the
   * total, never as visible. Without them a restarted tab read at full confidence (1 of 1) until
   * its peers answered, though it had just seen a cluster of five. Forgotten after reapAfterMs,
   * as a dead member would be.
   */
  private readonly remembered = new Set<NodeId>();
  private rememberedTimer: TimerHandle | undefined;

  /** Highest dot counter seen per origin, over every version this node has held. */
  private clock: Record<NodeId, number> = {};
  /** Highest counter seen per node in any dot or context entry this node admitted (admission.ts). */
  private readonly knownCounters = new Map<NodeId, number>();
  private clockSnapshot: VersionVector | undefined;
  private counter: number;
  private incarnation: number;
  private readonly changes: GroupCommit;
  private pendingPush = new Map<MemoryId, MemoryRecord>();
  /** When flushPush last sent (scheduler ms): bounds how long a push waits under sustained load. */
  private lastPushAtMs = Number.NEGATIVE_INFINITY;
  private antiEntropyTimer: TimerHandle | undefined;
  private healRetryTimer: TimerHandle | undefined;
  private lastVisibility: Visibility;
  private gistCache: Gist[] | undefined;
  private running = false;
  private stopped = false;

  private readonly counters = {
    messagesSent: 0,
    bytesSent: 0,
    messagesReceived: 0,
    bytesReceived: 0,
    decodeErrors: 0,
    refusedVersions: 0,
    reassertions: 0,
    /** Time spent waiting on storage commits (scheduler ms). */
    commitMs: 0,
  };
  private readonly byType: Record<string, { count: number; bytes: number }> = {};
  private readonly clockBytesHistogram = new Map<number, number>();
  private readonly versionClockBytesHistogram = new Map<number, number>();

  private constructor(options: EngramNodeOptions, state: NodeState, records: MemoryRecord[]) {
    this.id = options.id;
    this.config = resolveConfig(options.config);
    this.transport = options.transport;
    this.storage = options.storage;
    this.scheduler = options.scheduler;
    this.random = options.random;
    const scheduler = options.scheduler;
    this.hlc = new HybridClock(scheduler.wallNow?.bind(scheduler) ?? (() => scheduler.now()));
    this.counter = state.counter;
    this.incarnation = state.incarnation;
    this.generations = new GenerationTracker(state);
    for (const id of state.generations.at(-1)?.visible ?? []) if (id !== this.id) this.remembered.add(id);
    this.tree = new MerkleTree({ arity: this.config.merkleArity, maxDepth: this.config.merkleMaxDepth });
    for (const record of records) this.install(record);
    this.changes = new GroupCommit({
      record: (id) => this.records.get(id),
      counter: () => this.counter,
      commit: (batch, counter) => this.commit(batch, counter),
      install: (batch, counter) => {
        this.counter = counter;
        for (const record of batch) this.install(record);
      },
      maxRecords: this.config.groupCommitMaxRecords,
      afterFailed: (error) => this.emit('error', { error: error instanceof Error ? error : new Error(String(error)) }),
      // Writes go out when they are durable, on the event itself: no timer stands between a write
      // and its push (a 20 ms batching timer did, and a hidden tab fires it once a second: p50
      // 437-672 ms from a hidden tab's write to the others). Only under sustained load, with
      // rounds committing back to back, are pushes gathered over replicationBatchMs of rounds:
      // one push per round there made every receiver commit a round per push, and slowed the
      // writers in a 3|2 split to 0.94 of their healthy rate (sim, halves, seed 1; 1.02 batched).
      afterRound: (moreWaiting) => {
        if (!moreWaiting || this.scheduler.now() - this.lastPushAtMs >= this.config.replicationBatchMs) this.flushPush();
      },
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
      apply: (incoming, peer) => this.applyRemote(incoming, peer),
      generationLogs: () => this.generationLogs(),
      learnGenerations: (logs) => this.learnGenerations(logs),
      generationEntry: (node, generation) => this.generationEntry(node, generation),
      progress: (progress) => this.emit('heal-progress', progress),
      finished: (report) => this.onHealFinished(report),
    });
    for (const member of this.swim.members()) this.trackState(member.id, member.state);
    this.lastVisibility = this.currentVisibility();
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
    return (await this.applyRemote(records, this.id)).length;
  }

  /** Joins the cluster through `seeds` (any members already known; more can be added later with addPeers). */
  start(seeds: readonly NodeId[] = []): void {
    if (this.stopped) throw new EngramError('stopped', 'this node was stopped; open a new one');
    if (this.running) return this.addPeers(seeds);
    this.running = true;
    this.swim.start(seeds.filter((seed) => seed !== this.id));
    if (this.remembered.size > 0) {
      this.rememberedTimer = this.scheduler.setTimer(this.config.reapAfterMs, () => {
        this.remembered.clear();
        this.refreshVisibility();
      });
    }
    this.scheduleAntiEntropy();
    this.refreshVisibility();
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
    this.flushPush();
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
    this.flushPush();
    this.swim.suspend();
  }

  /** Back from suspend(): rejoins (peers see it alive at once) and heals what it missed, now. */
  resume(): void {
    if (!this.running || !this.swim.isSuspended) return;
    this.swim.resume();
    // Its peers heal with it too (it came back: onMemberChange); starting here as well means the
    // first of the two to run does it, without waiting for anti-entropy.
    const alive = this.swim.members().filter((member) => member.id !== this.id && member.state === 'alive');
    const ahead = alive.filter((member) => this.lacksFrom(member.id));
    const peer = shuffled(ahead.length > 0 ? ahead : alive, this.random)[0];
    if (peer) this.requestHeal(peer.id);
  }

  /** Stops every timer and ignores the network from now on (a crash, as far as peers can tell). */
  stop(): void {
    this.stopped = true;
    this.running = false;
    this.swim.stop();
    this.healer.stop();
    this.antiEntropyTimer?.cancel();
    this.healRetryTimer?.cancel();
    this.rememberedTimer?.cancel();
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

  /** Live memories matching the query, each with its original and visibility-adjusted confidence. */
  recall(query: RecallQuery = {}): RecallResult {
    return this.recallIndex.recall(query, this.visibility(), (record) => this.conflictIds.has(record.id));
  }

  members(): Member[] {
    return this.swim.members();
  }

  visibility(): Visibility {
    return this.lastVisibility;
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
    return {
      ...this.counters,
      commits: this.changes.stats,
      byType: this.byType,
      clockBytes: this.clockBytesHistogram,
      versionClockBytes: this.versionClockBytesHistogram,
    };
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
    let set = this.listeners.get(event);
    if (!set) this.listeners.set(event, (set = new Set()));
    set.add(listener as Listener<never>);
    return () => set.delete(listener as Listener<never>);
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
        this.pendingPush.set(id, this.records.get(id) as MemoryRecord);
        this.emit('write', { id, local: true });
      },
    });
  }

  /**
   * Merges records from a peer durably; resolves with the versions that were new here. Each
   * version is admitted first (admission.ts) unless it comes from this browser (absorb); one that
   * is refused, or a record that cannot be merged, is counted, reported as an `error` event and
   * skipped, and the rest of the batch is applied: a bad record is isolated, not contagious.
   */
  private applyRemote(incoming: readonly MemoryRecord[], from: NodeId): Promise<Version[]> {
    const screened = from !== this.id;
    return this.changes.submit({
      plan: (stage) => {
        const learned: Version[] = [];
        const changed = new Set<MemoryId>();
        const refused: RefusedVersion[] = [];
        if (this.stopped) return { learned, changed, refused };
        const view: AdmissionView = { self: this.id, issued: stage.counter, known: (node) => this.knownCounters.get(node) ?? 0 };
        for (const raw of incoming) {
          try {
            const current = stage.record(raw.id);
            const admitted = screened
              ? raw.siblings.filter((version) => {
                  const reason = refusalOf(version, current, view);
                  if (reason !== undefined) refused.push({ id: raw.id, version, reason });
                  return reason === undefined;
                })
              : raw.siblings;
            if (admitted.length === 0) continue;
            const record: MemoryRecord = { id: raw.id, siblings: canonicalSiblings(admitted) };
            if (includes(current, record)) continue;
            const merged = current ? mergeRecords(current, record) : record;
            if (merged.siblings.length > LIMITS.siblings) {
              // Held, it could not be sent to anyone (decoders read LIMITS.siblings): refuse the newcomers instead.
              for (const version of record.siblings) refused.push({ id: raw.id, version, reason: 'too-many-siblings' });
              continue;
            }
            const before = new Set(current?.siblings.map((sibling) => dotKey(sibling.dot)) ?? []);
            for (const sibling of merged.siblings) {
              if (before.has(dotKey(sibling.dot))) continue;
              learned.push(sibling);
              // Before any local write planned after this one: that write has seen this version.
              this.hlc.observe(sibling.writtenAt);
            }
            changed.add(record.id);
            stage.put(merged);
          } catch (error) {
            // A record no rule foresaw (a merge that throws): skip it, keep the batch.
            for (const version of raw.siblings) refused.push({ id: raw.id, version, reason: 'unmergeable', error });
          }
        }
        return { learned, changed, refused };
      },
      after: ({ changed, refused }) => {
        for (const id of changed) this.emit('write', { id, local: false });
        if (refused.length > 0) this.onRefused(refused, from);
      },
    }).then(({ learned }) => learned);
  }

  /**
   * Counts and reports refused versions, and re-asserts over forged versions of this node's own
   * dots: third parties cannot tell them from real ones, so this node writes a version of that
   * record whose context covers the forgery and whose dot is past everything it claims (its
   * counter jumps there if needed, at most LIMITS.counterLeap at a time). The new version
   * supersedes the forgery everywhere and carries this node's shown content (a tombstone if it
   * holds no such record), so replicas converge and this node's writes are never overruled.
   * Contexts that claim too much of this node are made harmless instead (leapPast).
   */
  private onRefused(refused: readonly RefusedVersion[], from: NodeId): void {
    this.counters.refusedVersions += refused.length;
    const reasons = [...new Set(refused.map((entry) => entry.reason))].join(', ');
    const first = refused[0] as RefusedVersion;
    this.emit('error', {
      error: new EngramError('refused', `refused ${refused.length} version(s) from ${from} (${reasons}), e.g. ${first.id} ${dotKey(first.version.dot)}`, { cause: first.error }),
      from,
    });
    const forged = new Map<MemoryId, Version[]>();
    const ahead: MemoryRecord[] = [];
    for (const entry of refused) {
      if (entry.reason === 'forged-context') ahead.push({ id: entry.id, siblings: [entry.version] });
      if (entry.reason !== 'forged-dot') continue;
      const list = forged.get(entry.id);
      if (list) list.push(entry.version);
      else forged.set(entry.id, [entry.version]);
    }
    for (const [id, versions] of forged) void this.reassert(id, versions).catch(() => undefined);
    if (ahead.length > 0) void this.leapPast(ahead, from).catch(() => undefined);
  }

  /**
   * A context that claims more of this node's writes than it issued would cover its future dots
   * on every replica that admitted it, so this node's next writes to that memory would vanish
   * there. Moving this node's counter past the claim (at most LIMITS.counterLeap at a time) makes
   * the claim true and harmless: the version is then admitted like any other, and this node's
   * next writes have dots no context covers. Claims further out are refused by every replica.
   */
  private async leapPast(records: readonly MemoryRecord[], from: NodeId): Promise<void> {
    const leapt = await this.changes.submit({
      persist: true,
      plan: (stage) => {
        let floor = stage.counter;
        for (const record of records) for (const version of record.siblings) floor = Math.max(floor, version.context[this.id] ?? 0);
        if (floor === stage.counter || floor - stage.counter > LIMITS.counterLeap || floor + 1 > LIMITS.counter) return false;
        stage.counter = floor;
        return true;
      },
    });
    if (leapt) await this.applyRemote(records, from);
  }

  private reassert(id: MemoryId, forgeries: readonly Version[]): Promise<void> {
    return this.changes.submit({
      plan: (stage) => {
        if (this.stopped) return;
        const current = stage.record(id);
        let context = recordContext(current);
        // Already written over (an earlier re-assertion of the same forgery)? Then nothing to do.
        const view: AdmissionView = { self: this.id, issued: stage.counter, known: () => Number.POSITIVE_INFINITY };
        const pending = forgeries.filter((version) => refusalOf(version, current, view) !== undefined || !includes(current, { id, siblings: [version] }));
        if (pending.length === 0) return;
        let floor = stage.counter;
        for (const version of pending) {
          floor = Math.max(floor, reassertionFloor(version, this.id));
          context = withDot(context, version.dot);
        }
        // Past the leap (or the bound) the forgery is refused by every replica anyway (admission.ts): nothing to write over.
        if (floor - stage.counter > LIMITS.counterLeap || floor + 1 > LIMITS.counter) return;
        for (const version of pending) this.hlc.observe(version.writtenAt);
        const shown = current ? shownVersion(current) : undefined;
        const now = this.hlc.now();
        const dot: Dot = { node: this.id, counter: floor + 1 };
        stage.put(
          addVersion(current, id, {
            content: shown?.content ?? '',
            tags: [...(shown?.tags ?? [])],
            confidence: shown?.confidence ?? 1,
            deleted: shown?.deleted ?? true,
            dot,
            context,
            createdAt: shown?.createdAt ?? now,
            author: shown?.author ?? this.id,
            writtenAt: now,
            generation: this.generations.current,
          }),
        );
        stage.counter = dot.counter;
        this.counters.reassertions += 1;
      },
      after: () => {
        // Pushed when durable, like a local write (the commit's durability hook flushes pendingPush).
        const record = this.records.get(id);
        if (record) this.pendingPush.set(id, record);
      },
    });
  }

  /** Persists the node's own state (incarnation, generation log) with the next round of changes. */
  private persistState(): void {
    void this.changes.submit({ plan: () => undefined, persist: true }).catch(() => undefined);
  }

  private async commit(records: readonly MemoryRecord[], counter: number): Promise<void> {
    const startedMs = this.scheduler.now();
    try {
      await this.storage.commit({ records, state: this.persistentState(counter) });
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
    };
  }

  /** Puts a committed record into memory, the Merkle tree, the node clock and the conflict queue. */
  private install(record: MemoryRecord): void {
    this.records.set(record.id, record);
    this.recallIndex.set(record);
    this.tree.set(record.id, recordDigest(record));
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

  // ---------------------------------------------------------------- replication

  /** Pushes recent local writes to every member we can see; the rest is left to healing. */
  private flushPush(): void {
    if (this.pendingPush.size === 0 || this.stopped) return;
    const records = [...this.pendingPush.values()];
    this.pendingPush.clear();
    this.lastPushAtMs = this.scheduler.now();
    const peers = this.swim.members().filter((member) => member.id !== this.id && member.state === 'alive');
    const batchSize = Math.max(1, this.config.maxRecordsPerMessage);
    for (const peer of peers) {
      for (let start = 0; start < records.length; start += batchSize) {
        this.send(peer.id, { type: 'replicate', records: records.slice(start, start + batchSize) });
      }
    }
  }

  // ---------------------------------------------------------------- healing

  private scheduleAntiEntropy(): void {
    if (this.stopped) return;
    const jitter = this.random.next() * 0.5 + 0.75;
    this.antiEntropyTimer = this.scheduler.setTimer(this.config.antiEntropyIntervalMs * jitter, () => {
      this.antiEntropy();
      this.scheduleAntiEntropy();
    });
  }

  /** Compares roots with the peer most likely to have what we lack (its clock is ahead), else a random one. */
  private antiEntropy(): void {
    if (this.healer.busy || this.stopped) return;
    const alive = this.swim.members().filter((member) => member.id !== this.id && member.state === 'alive');
    if (alive.length === 0) return;
    const ahead = alive.filter((member) => this.lacksFrom(member.id));
    const pool = ahead.length > 0 ? ahead : alive;
    const peer = pool[this.random.int(pool.length)];
    if (peer) this.healer.open(peer.id);
  }

  private isAhead(delta: VersionVector): boolean {
    for (const node of Object.keys(delta)) if ((delta[node] as number) > (this.clock[node] ?? 0)) return true;
    return false;
  }

  private lacksFrom(peer: NodeId): boolean {
    const theirs = this.peerClock(peer);
    for (const node of Object.keys(theirs)) if ((theirs[node] as number) > (this.clock[node] ?? 0)) return true;
    return false;
  }

  /** Heal with `peer` now, or as soon as the healer is free. */
  private requestHeal(peer: NodeId): void {
    if (this.stopped || !this.running) return;
    if (this.healer.open(peer)) return;
    this.scheduleHealRetry();
  }

  private scheduleHealRetry(): void {
    if (this.healRetryTimer || this.stopped) return;
    // Random back-off so that nodes turned away as busy do not all come back at the same instant.
    const delayMs = this.config.probeIntervalMs * (0.25 + this.random.next() * 0.5);
    this.healRetryTimer = this.scheduler.setTimer(delayMs, () => {
      this.healRetryTimer = undefined;
      if (this.healer.busy) return this.scheduleHealRetry();
      const candidates = this.swim
        .members()
        .filter((member) => member.id !== this.id && member.state === 'alive' && this.lacksFrom(member.id));
      const peer = shuffled(candidates, this.random)[0];
      if (peer) this.requestHeal(peer.id);
    });
  }

  private onHealFinished(report: HealReport): void {
    this.emit('heal', report);
    const succeeded = report.outcome === 'converged' || report.outcome === 'equal' || report.outcome === 'pulled' || report.outcome === 'served';
    if (!succeeded) this.scheduleHealRetry();
    else if (this.swim.members().some((member) => member.id !== this.id && member.state === 'alive' && this.lacksFrom(member.id))) {
      this.scheduleHealRetry();
    }
  }

  private generationLogs(): GenerationLog[] {
    const logs: GenerationLog[] = [{ node: this.id, entries: this.generations.log.slice(-8) }];
    for (const [node, entries] of this.knownGenerations) {
      if (node !== this.id && logs.length < LIMITS.generationNodes) logs.push({ node, entries: entries.slice(-8) });
    }
    return logs;
  }

  private learnGenerations(logs: readonly GenerationLog[]): void {
    for (const log of logs) {
      if (log.node === this.id) continue;
      const known = this.knownGenerations.get(log.node) ?? [];
      const byGeneration = new Map(known.map((entry) => [entry.generation, entry]));
      for (const entry of log.entries) byGeneration.set(entry.generation, entry);
      const merged = [...byGeneration.values()].sort((a, b) => a.generation - b.generation).slice(-32);
      this.knownGenerations.set(log.node, merged);
    }
  }

  private generationEntry(node: NodeId, generation: number): GenerationEntry | undefined {
    if (node === this.id) return this.generations.entry(generation);
    return this.knownGenerations.get(node)?.find((entry) => entry.generation === generation);
  }

  // ---------------------------------------------------------------- membership

  private onMemberChange(member: Member, previous: Member | undefined, reaped: boolean): void {
    this.emit('membership', { member, previous, reaped });
    if (member.id === this.id) return;
    const cameBack = member.state === 'alive' && previous !== undefined && previous.state !== 'alive';
    if (cameBack) {
      // Back from a partition (or a false suspicion): it may hold writes we lack and lack ours.
      // Brand-new members are not healed with here: a joiner with nothing to give is found by
      // clock lag (its clock shows it lacks ours), which keeps a 1,000-node start-up from opening
      // a million empty heal sessions.
      const jitterMs = this.random.next() * this.config.probeIntervalMs * 0.25;
      this.scheduler.setTimer(jitterMs, () => this.requestHeal(member.id));
    }
    // Only an explicit leave ends a heal at once. 'dead' may be a busy peer falsely accused (a heal
    // on a loaded machine is exactly when that happens); one really gone is silent, and the
    // session's step timer gives up on it within healStepTimeoutMs.
    if (member.state === 'left') this.healer.peerGone(member.id);
    this.trackState(member.id, member.state);
    this.refreshVisibility();
  }

  private onMemberReaped(id: NodeId): void {
    this.links.delete(id);
    this.knownGenerations.delete(id);
    this.healer.peerGone(id);
    this.trackState(id, undefined);
    this.refreshVisibility();
  }

  private trackState(id: NodeId, state: MemberState | undefined): void {
    // SWIM knows of it now (in whatever state): it is counted from there on.
    this.remembered.delete(id);
    const before = this.memberStates.get(id);
    if (before === state) return;
    if (before !== undefined && before !== 'left' && before !== 'sleeping') this.countableCount--;
    if (before === 'alive') this.visibleCount--;
    if (before === 'sleeping') this.sleepingCount--;
    if (state === undefined) this.memberStates.delete(id);
    else this.memberStates.set(id, state);
    if (state !== undefined && state !== 'left' && state !== 'sleeping') this.countableCount++;
    if (state === 'alive') this.visibleCount++;
    if (state === 'sleeping') this.sleepingCount++;
  }

  private currentVisibility(): Visibility {
    const total = Math.max(1, this.countableCount + this.remembered.size);
    const visible = Math.min(total, Math.max(1, this.visibleCount));
    const ratio = visible / total;
    const penalty = penaltyFactor(ratio, this.config.visibilityPenaltyFloor);
    return { visible, total, ratio, penalty, generation: this.generations.current, ...(this.sleepingCount > 0 ? { sleeping: this.sleepingCount } : {}) };
  }

  private onIncarnation(incarnation: number): void {
    this.incarnation = incarnation;
    this.persistState();
  }

  private refreshVisibility(): void {
    const last = this.lastVisibility;
    const countable = this.countableCount + this.remembered.size;
    const partial = this.visibleCount < countable;
    let logChange: 'advanced' | 'widened' | 'unchanged' = 'unchanged';
    // The visible set is only listed when it can matter to the generation log: a partial view, the
    // end of one, or a small cluster. A healthy 1,000-node cluster pays O(1) per membership change.
    if (partial || last.ratio < 1 || countable <= 64 || this.generations.log.length === 0) {
      const visible: NodeId[] = [];
      for (const [id, state] of this.memberStates) if (state === 'alive') visible.push(id);
      logChange = this.generations.observe(visible, countable, this.scheduler.now());
    }
    const next = this.currentVisibility();
    this.lastVisibility = next;
    // A widened member set is kept too: it is what a restart counts as not yet seen.
    if (logChange !== 'unchanged') this.persistState();
    const advanced = logChange === 'advanced';
    if (advanced || next.visible !== last.visible || next.total !== last.total || next.sleeping !== last.sleeping) this.emit('visibility', next);
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
    const encoded = encodeMessage(this.link(to), this.nodeClock(), message);
    const size = encoded.bytes.length;
    this.counters.messagesSent += 1;
    this.counters.bytesSent += size;
    const key = message.type === 'swim' ? `swim-${message.swim.type}` : message.type;
    const entry = (this.byType[key] ??= { count: 0, bytes: 0 });
    entry.count += 1;
    entry.bytes += size;
    countInto(this.clockBytesHistogram, encoded.clockBytes);
    for (const bytes of encoded.versionClockBytes) countInto(this.versionClockBytesHistogram, bytes);
    this.transport.send(to, encoded.bytes, message.type === 'replicate' || message.type === 'heal-records' ? 'bulk' : 'control');
    return size;
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
    this.counters.messagesReceived += 1;
    this.counters.bytesReceived += bytes.length;
    this.swim.heard(from);
    // The peer has writes we have not seen: heal soon, unless eager replication delivers them first.
    if (!this.healer.busy && !this.healRetryTimer && this.isAhead(clockDelta)) this.scheduleHealRetry();
    switch (message.type) {
      case 'swim':
        this.swim.handle(from, message.swim);
        break;
      case 'replicate':
        void this.applyRemote(message.records, from).catch(() => undefined);
        break;
      default:
        this.healer.handle(from, message, bytes.length);
    }
  }

  private emit<K extends keyof EngramEvents>(event: K, payload: EngramEvents[K]): void {
    const set = this.listeners.get(event);
    if (!set) return;
    for (const listener of set) (listener as Listener<EngramEvents[K]>)(payload);
  }

  private assertRunning(): void {
    if (this.stopped) throw new EngramError('stopped', 'this node was stopped');
  }
}

interface RefusedVersion {
  readonly id: MemoryId;
  readonly version: Version;
  readonly reason: Refusal | 'too-many-siblings' | 'unmergeable';
  readonly error?: unknown;
}

function countInto(histogram: Map<number, number>, value: number): void {
  histogram.set(value, (histogram.get(value) ?? 0) + 1);
}
