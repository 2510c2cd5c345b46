/**
 * Merkle anti-entropy between two replicas ("healing"): exchange roots, descend only into
 * subtrees whose hashes differ, compare per-key entry hashes inside the differing buckets, and
 * ship exactly the records that differ, in batches, with progress events.
 *
 *   initiator                          responder
 *   heal-open {root, keys} ───────────▶
 *            ◀─────────── heal-reply {accept | busy | equal}
 *   heal-level 1 (hashes) ────────────▶ compares, answers with the next level for differing nodes
 *            ◀─────────── heal-level 2 …   (sides alternate until the stop level)
 *   the side that reaches the stop level sends heal-keys (entry hashes of differing buckets);
 *   the other side ("K") answers heal-want (hashes it lacks) and ships what the first lacks;
 *   both ship heal-records batches, the last one marked final; then heal-done with roots.
 *
 * A node receives in one session at a time, so it never receives the same record from two peers
 * at once: that keeps shipped records close to the divergent ones. While it receives, it may
 * still serve others one-way (reply 'serve'): it sends what the opener lacks and takes nothing.
 * After a 3|2 split, the larger side's third node then pulls the other side's writes at once
 * instead of waiting for a pair to finish (in profile-heal timelines it had finished 0.35-1 s after
 * the first pairs, of a 2-3 s heal).
 *
 * For a key both sides hold in different versions, K first pulls the peer's version and pushes
 * its own back only if the merge holds something the peer's did not: a replica that is merely
 * behind is not sent its own stale copy's replacement twice.
 */
import type { EngramConfig } from './config.js';
import { DIGEST_BYTES, recordDigest } from './digest.js';
import { canonicalSiblings } from './merge.js';
import { hashBytes, healLevelFor, readUint32, type MerkleTree } from './merkle.js';
import { equalBytes } from './bytes.js';
import type { Random, Scheduler, TimerHandle } from './ports.js';
import type { GenerationEntry, MemoryId, MemoryRecord, NodeId, Version } from './types.js';
import { KEY_HASH_BYTES, type GenerationLog, type HealBucketKeys, type Message } from './wire.js';

type HealMessage = Extract<Message, { type: `heal-${string}` }>;

export type HealPhase = 'opening' | 'descending' | 'keys' | 'records' | 'verifying';

export interface HealProgress {
  readonly peer: NodeId;
  readonly session: number;
  readonly role: 'initiator' | 'responder';
  /** Records flow one way only, from the responder (which serves) to the initiator (which pulls). */
  readonly oneWay: boolean;
  readonly phase: HealPhase;
  readonly recordsSent: number;
  readonly recordsReceived: number;
  /** Records the peer said it will send, once known. */
  readonly recordsExpected: number | undefined;
  readonly bytesSent: number;
  readonly bytesReceived: number;
}

/** Writes learned in a heal, grouped by who wrote them in which generation and what that writer saw then. */
export interface HealSide {
  readonly writer: NodeId;
  readonly generation: number;
  /** The writer's visible member set in that generation, when its generation log was shared. */
  readonly visible: readonly NodeId[] | undefined;
  readonly partial: boolean | undefined;
  readonly versions: number;
}

/**
 * 'pulled' / 'served': a one-way session ended with the opener holding everything the server
 * held, while the server still lacks some of the opener's (anti-entropy carries that later).
 */
export type HealOutcome = 'converged' | 'diverged' | 'equal' | 'busy' | 'aborted' | 'pulled' | 'served';

export interface HealReport {
  readonly peer: NodeId;
  readonly session: number;
  readonly role: 'initiator' | 'responder';
  readonly oneWay: boolean;
  readonly outcome: HealOutcome;
  readonly startedAt: number;
  readonly finishedAt: number;
  readonly recordsSent: number;
  readonly recordsReceived: number;
  readonly bytesSent: number;
  readonly bytesReceived: number;
  readonly sides: readonly HealSide[];
}

/** What the healer needs from its node. */
export interface HealHost {
  readonly self: NodeId;
  readonly config: EngramConfig;
  readonly scheduler: Scheduler;
  readonly random: Random;
  readonly tree: MerkleTree;
  record(id: MemoryId): MemoryRecord | undefined;
  /** Sends a message; returns its size in bytes. */
  send(peer: NodeId, message: HealMessage): number;
  /**
   * Merges records received from `peer` durably; resolves with the versions that were new here.
   * Calls are applied in call order even when made before earlier ones have resolved.
   */
  apply(records: readonly MemoryRecord[], peer: NodeId): Promise<readonly Version[]>;
  /** Recent generation logs of every node this one knows about (itself included). */
  generationLogs(): GenerationLog[];
  learnGenerations(logs: readonly GenerationLog[]): void;
  generationEntry(node: NodeId, generation: number): GenerationEntry | undefined;
  progress(progress: HealProgress): void;
  finished(report: HealReport): void;
}

interface Session {
  readonly id: number;
  readonly peer: NodeId;
  readonly role: 'initiator' | 'responder';
  /** See HealProgress.oneWay. */
  oneWay: boolean;
  readonly startedAt: number;
  phase: HealPhase;
  stopLevel: number;
  timer: TimerHandle | undefined;
  sentFinal: boolean;
  /** The final batch is queued (maybe not yet sent). */
  finalQueued: boolean;
  /** Batches waiting to be sent, one per task (see shipNext). */
  outgoing: { records: MemoryRecord[]; final: boolean }[];
  shipping: boolean;
  receivedFinal: boolean;
  applying: Promise<void>;
  /** Set once the initiator's heal-done has arrived (responder side). */
  peerDoneRoot: Uint8Array | undefined;
  doneSent: boolean;
  recordsSent: number;
  recordsReceived: number;
  recordsExpected: number | undefined;
  bytesSent: number;
  bytesReceived: number;
  /** Entry hash (hex) → id for the buckets we listed in heal-keys, to answer heal-want. */
  listed: Map<string, MemoryId>;
  /** K side: keys both hold in different versions; pushed back after the peer's version is merged. */
  contested: Set<MemoryId>;
  /** Digest (hex) of each record received, to tell whether our merge added anything the peer lacks. */
  receivedDigests: Map<MemoryId, string>;
  /** Received batches handed to the node and not yet durable. */
  pendingApplies: number;
  busyTimer: TimerHandle | undefined;
  learned: Map<string, { writer: NodeId; generation: number; versions: number }>;
}

export class Healer {
  /** The session this node receives in (two-way, or one-way as the opener), if any. */
  private session: Session | undefined;
  /** One-way sessions in which this node only sends, by `${peer} ${session id}`. */
  private readonly serving = new Map<string, Session>();

  constructor(private readonly host: HealHost) {}

  /** Receiving in a session: no other may be opened (serving others does not count). */
  get busy(): boolean {
    return this.session !== undefined;
  }

  /** Peers this node is serving one-way right now. */
  get servingPeers(): NodeId[] {
    return [...this.serving.values()].map((session) => session.peer);
  }

  get activePeer(): NodeId | undefined {
    return this.session?.peer;
  }

  /** Starts a heal with `peer`; false when a session is already running. */
  open(peer: NodeId): boolean {
    if (this.session) return false;
    const session = this.newSession(this.host.random.int(0x7fffffff) + 1, peer, 'initiator');
    this.session = session;
    this.send(session, {
      type: 'heal-open',
      session: session.id,
      root: this.host.tree.root(),
      keyCount: this.host.tree.size,
      generations: this.host.generationLogs(),
    });
    this.arm(session, this.host.config.healOpenTimeoutMs);
    this.report(session);
    return true;
  }

  /** The peer went away (dead, left, crashed): give up on sessions with it. */
  peerGone(peer: NodeId): void {
    if (this.session?.peer === peer) this.finish(this.session, 'aborted');
    for (const session of [...this.serving.values()]) if (session.peer === peer) this.finish(session, 'aborted');
  }

  stop(): void {
    for (const session of [this.session, ...this.serving.values()]) {
      session?.timer?.cancel();
      session?.busyTimer?.cancel();
    }
    this.session = undefined;
    this.serving.clear();
  }

  handle(from: NodeId, message: HealMessage, byteLength: number): void {
    if (message.type === 'heal-open') return this.onOpen(from, message);
    const session =
      this.session?.peer === from && this.session.id === message.session ? this.session : this.serving.get(servingKey(from, message.session));
    if (!session) return;
    session.bytesReceived += byteLength;
    this.arm(session);
    switch (message.type) {
      case 'heal-reply':
        return this.onReply(session, message);
      case 'heal-level':
        return this.onLevel(session, message.level, message.nodes);
      case 'heal-keys':
        return this.onKeys(session, message.level, message.buckets);
      case 'heal-want':
        return this.onWant(session, message.want, message.sending);
      case 'heal-records':
        return this.onRecords(session, message.records, message.final);
      case 'heal-done':
        return this.onDone(session, message.root);
      case 'heal-abort':
        return this.finish(session, 'aborted', false);
    }
  }

  private onOpen(from: NodeId, message: Extract<HealMessage, { type: 'heal-open' }>): void {
    this.host.learnGenerations(message.generations);
    const reply = (status: 'accept' | 'busy' | 'equal' | 'serve') =>
      this.host.send(from, {
        type: 'heal-reply',
        session: message.session,
        status,
        root: this.host.tree.root(),
        keyCount: this.host.tree.size,
        generations: status === 'accept' || status === 'serve' ? this.host.generationLogs() : [],
      });
    if (equalBytes(message.root, this.host.tree.root())) {
      reply('equal');
      return;
    }
    let oneWay = false;
    const current = this.session;
    if (current) {
      // Two nodes opening at each other at once: the smaller id's session wins, so exactly one proceeds.
      const crossedOpen = current.peer === from && current.role === 'initiator' && current.phase === 'opening';
      if (crossedOpen && from < this.host.self) {
        current.timer?.cancel();
        this.session = undefined;
      } else if (current.peer !== from && !this.servingPeers.includes(from) && this.serving.size < this.host.config.healMaxServing) {
        oneWay = true;
      } else {
        reply('busy');
        return;
      }
    }
    const session = this.newSession(message.session, from, 'responder');
    session.oneWay = oneWay;
    session.stopLevel = this.stopLevelFor(message.keyCount);
    if (oneWay) this.serving.set(servingKey(from, session.id), session);
    else this.session = session;
    session.bytesSent += reply(oneWay ? 'serve' : 'accept');
    this.arm(session);
    this.report(session);
  }

  private onReply(session: Session, message: Extract<HealMessage, { type: 'heal-reply' }>): void {
    if (session.role !== 'initiator' || session.phase !== 'opening') return;
    this.host.learnGenerations(message.generations);
    if (message.status === 'busy') return this.finish(session, 'busy', false);
    if (message.status === 'equal') return this.finish(session, 'equal', false);
    session.oneWay = message.status === 'serve';
    session.stopLevel = this.stopLevelFor(message.keyCount);
    session.phase = 'descending';
    const tree = this.host.tree;
    const nodes = tree.childHashes(0, 0).map((hash, index) => ({ index, hash }));
    this.send(session, { type: 'heal-level', session: session.id, level: 1, nodes });
    this.report(session);
  }

  private onLevel(session: Session, level: number, nodes: readonly { index: number; hash: Uint8Array }[]): void {
    const tree = this.host.tree;
    if (level < 1 || level > session.stopLevel) return this.finish(session, 'aborted');
    session.phase = 'descending';
    const levelSize = tree.arity ** level;
    const differing: number[] = [];
    for (const node of nodes) {
      if (node.index >= levelSize) return this.finish(session, 'aborted');
      if (!equalBytes(node.hash, tree.nodeHash(level, node.index))) differing.push(node.index);
    }
    if (differing.length === 0) {
      // Nothing differs under what the peer listed (it changed meanwhile): ship nothing, finish.
      return this.onKeys(session, level, []);
    }
    if (level < session.stopLevel && !this.listingIsCheaper(level, differing)) {
      const next: { index: number; hash: Uint8Array }[] = [];
      for (const index of differing) {
        tree.childHashes(level, index).forEach((hash, child) => next.push({ index: index * tree.arity + child, hash }));
      }
      this.send(session, { type: 'heal-level', session: session.id, level: level + 1, nodes: next });
    } else {
      const buckets: HealBucketKeys[] = differing.map((index) => {
        const keys: { keyHash: Uint8Array; entryHash: Uint8Array }[] = [];
        tree.forEachUnder(level, index, (id, position, hashHi, hashLo) => {
          session.listed.set(hashKey(hashHi, hashLo), id);
          keys.push({ keyHash: uint32Bytes(position), entryHash: hashBytes(hashHi, hashLo) });
        });
        return { index, keys };
      });
      session.phase = 'keys';
      this.send(session, { type: 'heal-keys', session: session.id, level, buckets });
    }
    this.report(session);
  }

  /**
   * Whether listing our keys under the `differing` nodes now takes fewer bytes than the next
   * level's hashes alone would. The stop level is chosen for sparse divergence, where a level
   * deeper leaves most keys behind in equal nodes. After a long split, writes touch nearly every
   * node: with 32K keys and 10K of them changed, the finest level's 65,536 hashes (~700 KB, and
   * ~1 s of a loaded tab's time) pruned almost nothing the key lists would have carried anyway.
   */
  private listingIsCheaper(level: number, differing: readonly number[]): boolean {
    const tree = this.host.tree;
    let keys = 0;
    for (const index of differing) keys += tree.countUnder(level, index);
    return keys * LISTED_KEY_BYTES <= differing.length * tree.arity * LEVEL_NODE_BYTES;
  }

  private onKeys(session: Session, level: number, buckets: readonly HealBucketKeys[]): void {
    const tree = this.host.tree;
    if (level < 1 || level > tree.maxDepth) return this.finish(session, 'aborted');
    session.phase = 'records';
    const toShip: MemoryId[] = [];
    const want: Uint8Array[] = [];
    // One set each over all listed buckets: an entry hash names one (id, digest), and a key hash
    // (the key's tree position) fixes its bucket, so nothing from two buckets can be confused.
    const theirEntries = new Set<string>();
    const theirKeys = new Set<number>();
    for (const bucket of buckets) {
      if (bucket.index >= tree.arity ** level) return this.finish(session, 'aborted');
      for (const key of bucket.keys) {
        theirEntries.add(hashKeyOfBytes(key.entryHash));
        theirKeys.add(readUint32(key.keyHash, 0));
      }
    }
    const mine = new Set<string>();
    for (const bucket of buckets) {
      tree.forEachUnder(level, bucket.index, (id, position, hashHi, hashLo) => {
        const entry = hashKey(hashHi, hashLo);
        mine.add(entry);
        if (theirEntries.has(entry)) return;
        if (theirKeys.has(position)) session.contested.add(id);
        else toShip.push(id);
      });
    }
    for (const bucket of buckets) for (const key of bucket.keys) if (!mine.has(hashKeyOfBytes(key.entryHash))) want.push(key.entryHash);
    if (session.oneWay) {
      // Records go from the server to the opener only. Serving, send our version of a contested key
      // outright (the opener merges it); pulling, take theirs (it is in `want`) and push nothing back.
      if (session.role === 'responder') {
        toShip.push(...session.contested);
        want.length = 0;
      } else {
        toShip.length = 0;
      }
      session.contested.clear();
    }
    this.send(session, { type: 'heal-want', session: session.id, want, sending: toShip.length });
    // One record per entry hash asked for (fewer only if one vanished meanwhile): known, so progress shows it.
    session.recordsExpected = want.length;
    this.shipRecords(session, toShip, session.contested.size === 0);
  }

  /** K side, once the peer's versions of the contested keys are merged: push back what the peer still lacks. */
  private shipContested(session: Session): void {
    const ids: MemoryId[] = [];
    for (const id of session.contested) {
      const local = this.host.record(id);
      if (local && hashKeyOfBytes(recordDigest(local)) !== session.receivedDigests.get(id)) ids.push(id);
    }
    session.contested.clear();
    this.shipRecords(session, ids, true);
  }

  private onWant(session: Session, want: readonly Uint8Array[], sending: number): void {
    session.phase = 'records';
    session.recordsExpected = sending;
    const ids: MemoryId[] = [];
    for (const hash of want) {
      const id = session.listed.get(hashKeyOfBytes(hash));
      if (id !== undefined) ids.push(id);
    }
    this.shipRecords(session, ids, true);
  }

  /** Queues records for the peer in batches (the last one marked final if `final`), sent by shipNext. */
  private shipRecords(session: Session, ids: readonly MemoryId[], final: boolean): void {
    const batchSize = Math.max(1, this.host.config.maxRecordsPerMessage);
    const records = ids.map((id) => this.host.record(id)).filter((record): record is MemoryRecord => record !== undefined);
    for (let start = 0; start < records.length || (start === 0 && final); start += batchSize) {
      const last = final && start + batchSize >= records.length;
      session.outgoing.push({ records: records.slice(start, start + batchSize), final: last });
      if (last) break;
    }
    if (final) session.finalQueued = true;
    if (!session.shipping) this.shipNext(session);
  }

  /**
   * Sends one queued batch per task, not all at once: encoding thousands of records in one go
   * held a tab's main thread for hundreds of ms on a loaded machine, long enough for its peers to
   * take it for dead while it was busiest serving them.
   */
  private shipNext(session: Session): void {
    if (!this.isLive(session)) return;
    const next = session.outgoing.shift();
    if (next === undefined) {
      session.shipping = false;
      this.report(session);
      this.maybeComplete(session);
      return;
    }
    session.shipping = true;
    this.send(session, { type: 'heal-records', session: session.id, records: next.records, final: next.final });
    session.recordsSent += next.records.length;
    if (next.final) session.sentFinal = true;
    this.report(session);
    this.host.scheduler.setTimer(0, () => this.shipNext(session));
  }

  private onRecords(session: Session, records: readonly MemoryRecord[], final: boolean): void {
    // Empty and not final: the peer is still committing (keepBusyAlive); hearing it was the point.
    if (records.length === 0 && !final) return;
    // Serving takes nothing: a peer that sends anyway is not following the protocol.
    if (session.oneWay && session.role === 'responder' && records.length > 0) return this.finish(session, 'aborted');
    session.recordsReceived += records.length;
    for (const record of records) {
      if (session.contested.has(record.id)) {
        session.receivedDigests.set(record.id, hashKeyOfBytes(recordDigest({ id: record.id, siblings: canonicalSiblings(record.siblings) })));
      }
    }
    if (final) session.receivedFinal = true;
    // Handed to the node at once, not after the previous batch is durable: the node's group commit
    // keeps them in order and puts every batch that arrived during one commit into the next. (Chained,
    // a heal paid one storage commit per 256-record batch: ~4 s for 10K records in the browsers.)
    const applied = this.host.apply(records, session.peer);
    session.pendingApplies += 1;
    this.keepBusyAlive(session);
    const settled = () => void (session.pendingApplies -= 1);
    // Handling both outcomes here also keeps a rejection from going unhandled when an earlier batch
    // failed first and the chain below never reaches this one.
    applied.then(settled, settled);
    session.applying = session.applying
      .then(() => applied)
      .then((learned) => {
        for (const version of learned) {
          const key = `${version.dot.node}\u0000${version.generation}`;
          const entry = session.learned.get(key) ?? { writer: version.dot.node, generation: version.generation, versions: 0 };
          entry.versions += 1;
          session.learned.set(key, entry);
        }
      });
    this.report(session);
    this.maybeComplete(session);
  }

  private onDone(session: Session, root: Uint8Array): void {
    if (session.role === 'responder') {
      session.peerDoneRoot = root;
      this.maybeComplete(session);
    } else {
      this.finish(session, this.verdict(session, root));
    }
  }

  /** Equal roots: converged. Unequal after a one-way session is expected (the server lacks the opener's writes). */
  private verdict(session: Session, peerRoot: Uint8Array): HealOutcome {
    if (equalBytes(peerRoot, this.host.tree.root())) return 'converged';
    if (!session.oneWay) return 'diverged';
    return session.role === 'initiator' ? 'pulled' : 'served';
  }

  private isLive(session: Session): boolean {
    return this.session === session || this.serving.get(servingKey(session.peer, session.id)) === session;
  }

  /** Both directions shipped and everything received is durable: exchange roots. */
  private maybeComplete(session: Session): void {
    if (!session.receivedFinal) return;
    if (!session.sentFinal && session.contested.size === 0) return;
    void session.applying.then(() => {
      if (!this.isLive(session)) return;
      if (!session.sentFinal) {
        // Pushing back what the peer lacks; shipNext comes back here once the final batch is out.
        if (!session.finalQueued) this.shipContested(session);
        return;
      }
      session.phase = 'verifying';
      if (session.role === 'initiator') {
        if (session.doneSent) return;
        session.doneSent = true;
        this.send(session, { type: 'heal-done', session: session.id, root: this.host.tree.root() });
        this.report(session);
      } else if (session.peerDoneRoot) {
        this.send(session, { type: 'heal-done', session: session.id, root: this.host.tree.root() });
        this.finish(session, this.verdict(session, session.peerDoneRoot));
      }
    }, () => this.finish(session, 'aborted'));
  }

  private newSession(id: number, peer: NodeId, role: 'initiator' | 'responder'): Session {
    return {
      id,
      peer,
      role,
      oneWay: false,
      startedAt: this.host.scheduler.now(),
      phase: 'opening',
      stopLevel: 1,
      timer: undefined,
      sentFinal: false,
      finalQueued: false,
      outgoing: [],
      shipping: false,
      receivedFinal: false,
      applying: Promise.resolve(),
      peerDoneRoot: undefined,
      doneSent: false,
      recordsSent: 0,
      recordsReceived: 0,
      recordsExpected: undefined,
      bytesSent: 0,
      bytesReceived: 0,
      listed: new Map(),
      contested: new Set(),
      receivedDigests: new Map(),
      pendingApplies: 0,
      busyTimer: undefined,
      learned: new Map(),
    };
  }

  private stopLevelFor(peerKeyCount: number): number {
    const { merkleArity, merkleMaxDepth, merkleKeysPerBucket } = this.host.config;
    return healLevelFor(Math.max(peerKeyCount, this.host.tree.size), merkleArity, merkleMaxDepth, merkleKeysPerBucket);
  }

  private send(session: Session, message: HealMessage): void {
    session.bytesSent += this.host.send(session.peer, message);
  }

  /**
   * (Re)starts the step timer: a session that hears nothing from its peer for a step is given up
   * (a lost message, a peer gone). Not while this side is still committing what it received: its
   * own slowness is no reason, and meanwhile it tells the peer so (see keepBusyAlive).
   */
  private arm(session: Session, timeoutMs = this.host.config.healStepTimeoutMs): void {
    session.timer?.cancel();
    session.timer = this.host.scheduler.setTimer(timeoutMs, () => {
      if (!this.isLive(session)) return;
      if (session.pendingApplies > 0) return this.arm(session);
      this.finish(session, 'aborted');
    });
  }

  /**
   * While received records are still being committed here, the peer hears from us every half
   * step: an empty, non-final heal-records, which re-arms its step timer and changes nothing.
   * Committing thousands of records on a loaded machine can take longer than a step, and a peer
   * that gave up then would throw the whole session away; a peer that is really gone still
   * times out, since its silence is not covered by ours.
   */
  private keepBusyAlive(session: Session): void {
    if (session.busyTimer !== undefined) return;
    session.busyTimer = this.host.scheduler.setTimer(this.host.config.healStepTimeoutMs / 2, () => {
      session.busyTimer = undefined;
      if (!this.isLive(session) || session.pendingApplies === 0) return;
      this.send(session, { type: 'heal-records', session: session.id, records: [], final: false });
      this.keepBusyAlive(session);
    });
  }

  private report(session: Session): void {
    this.host.progress({
      peer: session.peer,
      session: session.id,
      role: session.role,
      oneWay: session.oneWay,
      phase: session.phase,
      recordsSent: session.recordsSent,
      recordsReceived: session.recordsReceived,
      recordsExpected: session.recordsExpected,
      bytesSent: session.bytesSent,
      bytesReceived: session.bytesReceived,
    });
  }

  private finish(session: Session, outcome: HealOutcome, tellPeer = outcome === 'aborted'): void {
    if (!this.isLive(session)) return;
    session.timer?.cancel();
    session.busyTimer?.cancel();
    if (this.session === session) this.session = undefined;
    else this.serving.delete(servingKey(session.peer, session.id));
    if (tellPeer) this.host.send(session.peer, { type: 'heal-abort', session: session.id });
    const sides: HealSide[] = [...session.learned.values()]
      .map((entry) => {
        const known = this.host.generationEntry(entry.writer, entry.generation);
        return { ...entry, visible: known?.visible, partial: known?.partial };
      })
      .sort((a, b) => (a.writer < b.writer ? -1 : a.writer > b.writer ? 1 : a.generation - b.generation));
    this.host.finished({
      peer: session.peer,
      session: session.id,
      role: session.role,
      oneWay: session.oneWay,
      outcome,
      startedAt: session.startedAt,
      finishedAt: this.host.scheduler.now(),
      recordsSent: session.recordsSent,
      recordsReceived: session.recordsReceived,
      bytesSent: session.bytesSent,
      bytesReceived: session.bytesReceived,
      sides,
    });
  }
}

/** Wire bytes of one key in heal-keys (key hash and entry hash) and of one node in heal-level (index varint, ~2 bytes, and hash). */
const LISTED_KEY_BYTES = KEY_HASH_BYTES + DIGEST_BYTES;
const LEVEL_NODE_BYTES = 2 + DIGEST_BYTES;

function servingKey(peer: NodeId, session: number): string {
  return `${peer} ${session}`;
}

/**
 * The key hash of a listed key: its tree position, i.e. the first 4 bytes of sha256(utf8(id)),
 * which the tree already holds. Lets two sides tell "same key, other version" from "key you lack".
 */
function uint32Bytes(value: number): Uint8Array {
  const out = new Uint8Array(KEY_HASH_BYTES);
  out[0] = value >>> 24;
  out[1] = value >>> 16;
  out[2] = value >>> 8;
  out[3] = value;
  return out;
}

/**
 * A map key for an 8-byte hash given as big-endian (hi, lo) halves: its four 16-bit units as a
 * string. Hex cost ~0.35 s of a 10K heal's CPU across five tabs (profile-heal); this is a few ns.
 */
function hashKey(hi: number, lo: number): string {
  return String.fromCharCode(hi >>> 16, hi & 0xffff, lo >>> 16, lo & 0xffff);
}

/** hashKey of an 8-byte hash's bytes. */
function hashKeyOfBytes(bytes: Uint8Array): string {
  return hashKey(readUint32(bytes, 0), readUint32(bytes, 4));
}
