/**
 * SWIM's dissemination: the rules by which a membership claim (a rumour, or a sync's digest) wins
 * over what this node holds (memberlist's aliveNode / suspectNode / deadNode precedence), the
 * suspicion timers a suspect claim starts (suspicion.ts), the refutation of claims about this
 * node by a higher incarnation, and the piggyback queue that carries every change on to others
 * (broadcast.ts). The member table (swim-members.ts) holds the result; the probe cycle
 * (probe-cycle.ts) feeds its own verdicts in through `apply`.
 */
import type { Awareness } from './awareness.js';
import { BroadcastQueue, retransmitLimit } from './broadcast.js';
import type { EngramConfig } from './config.js';
import { LIMITS } from './limits.js';
import { isLive, type MemberEntry, type MemberTable } from './swim-members.js';
import type { Scheduler } from './ports.js';
import { Suspicion, suspicionBoundsMs } from './suspicion.js';
import type { MemberDigest, Rumour, RumourKind, SwimStats } from './swim-messages.js';
import type { MemberState, NodeId } from './types.js';

export interface RumoursOptions {
  self: NodeId;
  config: EngramConfig;
  scheduler: Scheduler;
  table: MemberTable;
  awareness: Awareness;
  counters: SwimStats;
  /** Between suspend() and resume(): claims about this node wait for resume(). */
  isSuspended(): boolean;
  /** Our own incarnation went up (refutation): the node persists it. */
  onIncarnation(incarnation: number): void;
}

export class Rumours {
  private readonly self: NodeId;
  private readonly config: EngramConfig;
  private readonly scheduler: Scheduler;
  private readonly table: MemberTable;
  private readonly awareness: Awareness;
  private readonly counters: SwimStats;
  private readonly options: RumoursOptions;
  private readonly suspicions = new Map<NodeId, Suspicion>();
  private readonly broadcasts = new BroadcastQueue<Rumour>();

  constructor(options: RumoursOptions) {
    this.options = options;
    this.self = options.self;
    this.config = options.config;
    this.scheduler = options.scheduler;
    this.table = options.table;
    this.awareness = options.awareness;
    this.counters = options.counters;
  }

  /** Applies rumours in order; returns whether any of them was a stale accusation of this node (too old to refute). */
  applyAll(rumours: readonly Rumour[]): boolean {
    let staleAccusation = false;
    for (const rumour of rumours) {
      if (this.ignored(rumour)) continue;
      if (rumour.node === this.self && rumour.kind !== 'alive' && rumour.incarnation < this.table.self.incarnation) {
        staleAccusation = true;
      }
      this.apply(rumour);
    }
    return staleAccusation;
  }

  /** Merges a peer's membership view: each digest counts as a rumour from that peer. */
  merge(from: NodeId, digests: readonly MemberDigest[]): void {
    for (const digest of digests) {
      // Fast path for the common case, an alive digest we already know: it cannot change anything.
      if (digest.state === 'alive' && digest.incarnation <= (this.table.get(digest.node)?.incarnation ?? -1)) continue;
      // memberlist's mergeState: a remote 'dead' is only a suspicion here. The sender may have
      // declared it across a partition that has just healed; suspecting lets the member refute
      // before we count it as gone, instead of spreading a false death through our side.
      const kind: RumourKind = digest.state === 'dead' ? 'suspect' : digest.state;
      const rumour: Rumour = { kind, node: digest.node, incarnation: digest.incarnation, from };
      if (!this.ignored(rumour)) this.apply(rumour);
    }
  }

  /** memberlist's precedence: aliveNode / suspectNode / deadNode, with 'left' above 'dead' at equal incarnation. */
  apply(rumour: Rumour): void {
    if (rumour.node === this.self) {
      this.applyAboutSelf(rumour);
      return;
    }
    const entry = this.table.get(rumour.node);
    switch (rumour.kind) {
      case 'alive':
        if (!entry) {
          this.table.add(rumour.node, rumour.incarnation);
        } else if (rumour.incarnation > entry.incarnation) {
          this.transition(entry, 'alive', rumour.incarnation);
        } else {
          return;
        }
        break;
      case 'suspect': {
        // Suspicion of a member we do not know is ignored: we could not judge its refutation.
        if (!entry || rumour.incarnation < entry.incarnation) return;
        if (entry.state === 'suspect') {
          const suspicion = this.suspicions.get(entry.id);
          const raised = rumour.incarnation > entry.incarnation;
          // A suspicion of a later incarnation supersedes ours (a stale alive must not clear it);
          // the timer keeps running: the member has been unreachable since it started.
          if (raised) this.transition(entry, 'suspect', rumour.incarnation);
          if (suspicion?.confirm(rumour.from) !== true && !raised) return;
          break;
        }
        if (entry.state !== 'alive') return;
        this.transition(entry, 'suspect', rumour.incarnation);
        this.startSuspicion(entry, rumour.from);
        if (rumour.from === this.self) this.counters.suspicionsRaised++;
        break;
      }
      case 'dead':
        if (!entry || rumour.incarnation < entry.incarnation || !isLive(entry.state)) return;
        this.transition(entry, 'dead', rumour.incarnation);
        break;
      case 'left':
        if (!entry || rumour.incarnation < entry.incarnation || entry.state === 'left') return;
        this.transition(entry, 'left', rumour.incarnation);
        break;
      case 'sleeping':
        if (!entry || rumour.incarnation < entry.incarnation || entry.state === 'left') return;
        if (entry.state === 'sleeping' && rumour.incarnation === entry.incarnation) return;
        this.transition(entry, 'sleeping', rumour.incarnation);
        break;
    }
    this.broadcasts.enqueue(rumour.node, rumour);
  }

  /** This node's own claim (alive after a refutation, sleeping, awake again), queued ahead of others' rumours. */
  announce(claim: Rumour): void {
    this.broadcasts.enqueue(this.self, claim, true);
  }

  /** This node alive at its current incarnation, as a rumour. */
  selfAlive(): Rumour {
    return { kind: 'alive', node: this.self, incarnation: this.table.self.incarnation, from: this.self };
  }

  /** Direct rumours first, then up to maxPiggyback in all from the queue. */
  piggyback(direct: Rumour[]): Rumour[] {
    const room = this.config.maxPiggyback - direct.length;
    if (room <= 0) return direct;
    const queued = this.broadcasts.take(room, retransmitLimit(this.config.retransmitMult, this.table.liveCount));
    return direct.length === 0 ? queued : direct.concat(queued);
  }

  /** Cancels every suspicion timer (the node stopped). */
  stop(): void {
    for (const suspicion of this.suspicions.values()) suspicion.cancel();
    this.suspicions.clear();
  }

  /** Whether a received rumour is ignored (counted): an accusation at the bound, or an incarnation no member could have issued yet. */
  private ignored(rumour: Rumour): boolean {
    // Incarnations are bounded by LIMITS.counter (the decoder reads no more). A member always
    // refutes with accused + 1, capped at the bound, so the top value is kept for the member
    // itself: an accusation from a peer at the top is ignored, or the member could never refute
    // it and would be held dead for good (issue 10: an accusation at 2^53−1 made the victim
    // refute with 2^53, which the encoder cannot write). Honest incarnations rise by one per
    // refutation and never get near it; this node's own probe verdicts (not received, so not
    // filtered here) still apply at the top.
    if (rumour.kind !== 'alive' && rumour.incarnation >= LIMITS.counter) {
      this.counters.accusationsAtBound++;
      return true;
    }
    // Only the member issues its incarnations, a step at a time (LIMITS.incarnationLeap): a claim
    // far past what we know of it is a lie, and believing it would push the member towards the
    // top, where it could no longer refute. This node itself is judged the same way: peers know
    // no more of our incarnation than we issued, so a claim past our own + the leap is one no
    // honest peer holds, and refuting it would only spend incarnations.
    if (rumour.incarnation > (this.table.get(rumour.node)?.incarnation ?? 0) + LIMITS.incarnationLeap) {
      this.counters.implausibleIncarnations++;
      return true;
    }
    return false;
  }

  private applyAboutSelf(rumour: Rumour): void {
    // Asleep, we said so ourselves: our own claim echoed back, or a peer's doubt, waits for resume().
    if (this.options.isSuspended()) return;
    const own = this.table.self.incarnation;
    if (rumour.kind === 'alive') {
      // Only we issue our incarnations; a higher one means our persisted state was lost. Go above it.
      if (rumour.incarnation > own) this.refute(rumour.incarnation, 0);
      return;
    }
    // A 'left' or 'sleeping' about us while we run is as false as a suspicion (say, from a previous life of this tab).
    if (rumour.incarnation >= own) this.refute(rumour.incarnation, 1);
  }

  /** Lifeguard: being suspected is evidence that we are slow (awareness +1), so refute and slow down. */
  private refute(accusedIncarnation: number, awarenessDelta: number): void {
    this.table.updateSelf({ incarnation: Math.min(accusedIncarnation + 1, LIMITS.counter) });
    this.counters.refutations++;
    this.awareness.applyDelta(awarenessDelta);
    this.announce(this.selfAlive());
    this.options.onIncarnation(this.table.self.incarnation);
  }

  private transition(entry: MemberEntry, state: MemberState, incarnation: number): void {
    if (entry.state === 'suspect' && state !== 'suspect') {
      this.suspicions.get(entry.id)?.cancel();
      this.suspicions.delete(entry.id);
    }
    this.table.transition(entry, state, incarnation);
  }

  private startSuspicion(entry: MemberEntry, from: NodeId): void {
    const liveCount = this.table.liveCount;
    const { minMs, maxMs } = suspicionBoundsMs(this.config, liveCount);
    // memberlist: when fewer members than K could confirm (n minus us and the suspect), waiting
    // for confirmations that cannot come would only delay the verdict, so expect none.
    const expected = liveCount - 2 < this.config.suspicionConfirmations ? 0 : this.config.suspicionConfirmations;
    const suspicion = new Suspicion({
      from,
      expectedConfirmations: expected,
      minMs,
      maxMs,
      scheduler: this.scheduler,
      lateGraceMs: this.config.probeTimeoutMs,
      onTimeout: () => {
        if (this.suspicions.get(entry.id) !== suspicion) return;
        this.counters.deathsDeclared++;
        this.apply({ kind: 'dead', node: entry.id, incarnation: entry.incarnation, from: this.self });
      },
    });
    this.suspicions.set(entry.id, suspicion);
  }
}
