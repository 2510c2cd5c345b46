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
 *
 * This file drives the protocol; heal-descent.ts holds the pure tree comparisons, heal-shipping.ts
 * the record batches, heal-session.ts the session state, reports and admission.
 */
import { equalBytes } from './bytes.js';
import { compareBuckets, differingNodes, firstLevel, listBuckets, listingIsCheaper, nextLevel, stopLevelFor, type LevelNode } from './heal-descent.js';
import { HealSessions, newSession, type HealHost, type HealMessage, type HealOutcome, type HealSide, type Session } from './heal-session.js';
import { HealShipping } from './heal-shipping.js';
import type { NodeId } from './types.js';
import type { HealBucketKeys } from './wire.js';

export type { HealHost, HealOutcome, HealPhase, HealProgress, HealReport, HealSide } from './heal-session.js';

export class Healer {
  private readonly sessions: HealSessions;
  private readonly shipping: HealShipping;

  constructor(private readonly host: HealHost) {
    this.sessions = new HealSessions(host.self, host.config.healMaxServing);
    this.shipping = new HealShipping(host, {
      isLive: (session) => this.sessions.isLive(session),
      send: (session, message) => this.send(session, message),
      report: (session) => this.report(session),
      maybeComplete: (session) => this.maybeComplete(session),
      finish: (session, outcome) => this.finish(session, outcome),
    });
  }

  /** Receiving in a session: no other may be opened (serving others does not count). */
  get busy(): boolean {
    return this.sessions.receiving !== undefined;
  }

  /** Peers this node is serving one-way right now. */
  get servingPeers(): NodeId[] {
    return this.sessions.servingPeers;
  }

  get activePeer(): NodeId | undefined {
    return this.sessions.receiving?.peer;
  }

  /** Starts a heal with `peer`; false when a session is already running. */
  open(peer: NodeId): boolean {
    if (this.sessions.receiving) return false;
    const session = newSession(this.host.random.int(0x7fffffff) + 1, peer, 'initiator', this.host.scheduler.now());
    this.sessions.add(session);
    this.send(session, {
      type: 'heal-open',
      session: session.id,
      root: this.host.tree.root(),
      keyCount: this.host.tree.size,
      generations: this.host.generationLogs(),
      frontier: this.host.frontier(),
    });
    this.arm(session, this.host.config.healOpenTimeoutMs);
    this.report(session);
    return true;
  }

  /** The peer went away (dead, left, crashed): give up on sessions with it. */
  peerGone(peer: NodeId): void {
    for (const session of this.sessions.all()) if (session.peer === peer) this.finish(session, 'aborted');
  }

  stop(): void {
    for (const session of this.sessions.all()) {
      session.timer?.cancel();
      session.busyTimer?.cancel();
    }
    this.sessions.clear();
  }

  handle(from: NodeId, message: HealMessage, byteLength: number): void {
    if (message.type === 'heal-open') return this.onOpen(from, message);
    const session = this.sessions.find(from, message.session);
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
        return this.shipping.onWant(session, message.want, message.missing, message.sending);
      case 'heal-records':
        return this.shipping.onRecords(session, message.records, message.final);
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
        frontier: status === 'busy' ? {} : this.host.frontier(),
      });
    if (equalBytes(message.root, this.host.tree.root())) {
      reply('equal');
      // Their root (as of their frontier) is ours: what they have seen is held or obsolete here too (frontier.ts).
      this.host.learnFrontier(from, message.frontier);
      return;
    }
    const admission = this.sessions.admit(from);
    if (admission === 'busy') {
      reply('busy');
      return;
    }
    const oneWay = admission === 'serve';
    const session = newSession(message.session, from, 'responder', this.host.scheduler.now());
    session.peerFrontier = message.frontier;
    session.oneWay = oneWay;
    session.stopLevel = stopLevelFor(this.host.config, message.keyCount, this.host.tree.size);
    this.sessions.add(session);
    session.bytesSent += reply(oneWay ? 'serve' : 'accept');
    this.arm(session);
    this.report(session);
  }

  private onReply(session: Session, message: Extract<HealMessage, { type: 'heal-reply' }>): void {
    if (session.role !== 'initiator' || session.phase !== 'opening') return;
    this.host.learnGenerations(message.generations);
    if (message.status === 'busy') return this.finish(session, 'busy', false);
    session.peerFrontier = message.frontier;
    if (message.status === 'equal') {
      this.host.learnFrontier(session.peer, message.frontier);
      return this.finish(session, 'equal', false);
    }
    session.oneWay = message.status === 'serve';
    session.stopLevel = stopLevelFor(this.host.config, message.keyCount, this.host.tree.size);
    session.phase = 'descending';
    this.send(session, { type: 'heal-level', session: session.id, level: 1, nodes: firstLevel(this.host.tree) });
    this.report(session);
  }

  private onLevel(session: Session, level: number, nodes: readonly LevelNode[]): void {
    const tree = this.host.tree;
    if (level < 1 || level > session.stopLevel) return this.finish(session, 'aborted');
    session.phase = 'descending';
    const differing = differingNodes(tree, level, nodes);
    if (differing === undefined) return this.finish(session, 'aborted');
    if (differing.length === 0) {
      // Nothing differs under what the peer listed (it changed meanwhile): ship nothing, finish.
      return this.onKeys(session, level, []);
    }
    if (level < session.stopLevel && !listingIsCheaper(tree, level, differing)) {
      this.send(session, { type: 'heal-level', session: session.id, level: level + 1, nodes: nextLevel(tree, level, differing) });
    } else {
      const buckets = listBuckets(tree, level, differing, session.listed);
      session.phase = 'keys';
      this.send(session, { type: 'heal-keys', session: session.id, level, buckets });
    }
    this.report(session);
  }

  private onKeys(session: Session, level: number, buckets: readonly HealBucketKeys[]): void {
    const tree = this.host.tree;
    if (level < 1 || level > tree.maxDepth) return this.finish(session, 'aborted');
    session.phase = 'records';
    const compared = compareBuckets(tree, level, buckets, session.contested);
    if (compared === undefined) return this.finish(session, 'aborted');
    const { want, missing } = compared;
    // Keys the peer lacks altogether that it has seen (its frontier covers them) were forgotten
    // and collected there: dropped here rather than shipped back (frontier.ts).
    const toShip = this.host.shipOrDrop(compared.toShip, session.peerFrontier);
    if (session.oneWay) {
      // Records go from the server to the opener only. Serving, send our version of a contested key
      // outright (the opener merges it); pulling, take theirs (it is in `want`) and push nothing back.
      if (session.role === 'responder') {
        toShip.push(...session.contested);
        want.length = 0;
        missing.length = 0;
      } else {
        toShip.length = 0;
      }
      session.contested.clear();
    }
    this.send(session, { type: 'heal-want', session: session.id, want, missing, sending: toShip.length });
    // At most one record per entry hash asked for (fewer if one vanished meanwhile, or the peer
    // found it obsolete): known, so progress shows it.
    session.recordsExpected = want.length + missing.length;
    this.shipping.shipRecords(session, toShip, session.contested.size === 0);
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
    if (equalBytes(peerRoot, this.host.tree.root())) {
      // Equal roots, and the peer's frontier is from before its root: learnt soundly (frontier.ts).
      this.host.learnFrontier(session.peer, session.peerFrontier);
      return 'converged';
    }
    if (!session.oneWay) return 'diverged';
    return session.role === 'initiator' ? 'pulled' : 'served';
  }

  /** Both directions shipped and everything received is durable: exchange roots. */
  private maybeComplete(session: Session): void {
    if (!session.receivedFinal) return;
    if (!session.sentFinal && session.contested.size === 0) return;
    void session.applying.then(() => {
      if (!this.sessions.isLive(session)) return;
      if (!session.sentFinal) {
        // Pushing back what the peer lacks; shipNext comes back here once the final batch is out.
        if (!session.finalQueued) this.shipping.shipContested(session);
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
      if (!this.sessions.isLive(session)) return;
      if (session.pendingApplies > 0) return this.arm(session);
      this.finish(session, 'aborted');
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
    if (!this.sessions.isLive(session)) return;
    session.timer?.cancel();
    session.busyTimer?.cancel();
    this.sessions.remove(session);
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
