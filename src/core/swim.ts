/**
 * SWIM membership with the Lifeguard extensions, as a pure state machine modelled on
 * hashicorp/memberlist's state.go: probing (direct, then indirect through helpers that nack),
 * suspicion that shrinks with confirmations, refutation by incarnation, piggybacked gossip,
 * push-pull sync, reconnection probes to dead members, and reaping.
 *
 * Nothing here reads a clock or a random source directly: time comes from the Scheduler port
 * and randomness from the Random port, so the simulator replays a run exactly and runs it at
 * thousands of virtual seconds per real second. Work per period is O(members); per message
 * O(rumours carried), except sync which is O(members) by nature.
 */
import { Awareness } from './awareness.js';
import { BroadcastQueue, retransmitLimit } from './broadcast.js';
import type { EngramConfig } from './config.js';
import { EngramError } from './errors.js';
import { LIMITS } from './limits.js';
import type { Random, Scheduler, TimerHandle } from './ports.js';
import { shuffled } from './random.js';
import { Suspicion, suspicionBoundsMs } from './suspicion.js';
import type { Member, MemberState, NodeId } from './types.js';

export type RumourKind = 'alive' | 'suspect' | 'dead' | 'left' | 'sleeping';
/** A membership claim: `from` asserts that `node` is `kind` at `incarnation`. For suspect, distinct `from`s are independent confirmations. */
export interface Rumour {
  readonly kind: RumourKind;
  readonly node: NodeId;
  readonly incarnation: number;
  readonly from: NodeId;
}
export interface MemberDigest {
  readonly node: NodeId;
  readonly state: MemberState;
  readonly incarnation: number;
}
export type SwimMessage =
  | { readonly type: 'ping'; readonly seq: number; readonly rumours: readonly Rumour[] }
  | { readonly type: 'ack'; readonly seq: number; readonly rumours: readonly Rumour[] }
  | { readonly type: 'ping-req'; readonly seq: number; readonly target: NodeId; readonly rumours: readonly Rumour[] }
  | { readonly type: 'nack'; readonly seq: number; readonly rumours: readonly Rumour[] }
  | { readonly type: 'sync'; readonly reply: boolean; readonly members: readonly MemberDigest[] };

export interface SwimEvents {
  /** A member was added, changed state or incarnation (previous undefined = newly known). Not called for this node itself. */
  onMemberChange(member: Member, previous: Member | undefined): void;
  /** A dead or left member was forgotten after reapAfterMs. */
  onMemberReaped(id: NodeId): void;
  /** Our own incarnation went up (refutation): the node persists it. */
  onIncarnation(incarnation: number): void;
}

export interface SwimOptions {
  self: NodeId;
  /** The highest incarnation this node has used (persisted); it refutes above it. */
  incarnation: number;
  config: EngramConfig;
  scheduler: Scheduler;
  random: Random;
  /** Best-effort datagram to one node (see Transport). */
  send(to: NodeId, message: SwimMessage): void;
  events: SwimEvents;
}

/** The counters `stats` exposes, for the simulator and the bench. */
export interface SwimStats {
  /** Direct pings of the probe round robin. */
  probes: number;
  /** Probes answered (directly or through a helper) before the end of their interval. */
  acks: number;
  nacks: number;
  /** ping-req messages sent to helpers. */
  indirectProbes: number;
  /** Probes that ended with no ack: each raises (or confirms) a suspicion. */
  failedProbes: number;
  /** Probe verdicts postponed because our own timer fired late (see probeTick). */
  lateProbeGraces: number;
  /** Members this node itself moved from alive to suspect. */
  suspicionsRaised: number;
  /** Suspicion timers that ran out here (a member declared dead by this node). */
  deathsDeclared: number;
  refutations: number;
  /** Accusations (suspect/dead/left) at the top incarnation, LIMITS.counter, ignored: that value is reserved for the member's own refutation. */
  accusationsAtBound: number;
  /** Rumours and digests ignored for claiming an incarnation more than LIMITS.incarnationLeap past what this node knows of the member. */
  implausibleIncarnations: number;
  reconnectProbes: number;
  syncs: number;
  messagesSent: number;
  rumoursSent: number;
}

/** What this node knows of one member; mutable inside Swim, handed out as Member snapshots. */
interface MemberEntry {
  readonly id: NodeId;
  state: MemberState;
  incarnation: number;
  lastHeardAt: number | undefined;
  stateChangedAt: number;
  reapTimer: TimerHandle | undefined;
}

/** The probe in flight: at most one per node, judged when the next probe interval starts. */
interface PendingProbe {
  readonly seq: number;
  readonly target: NodeId;
  /** The target's incarnation when probed: a failure suspects that incarnation, so a refutation in between wins. */
  readonly incarnation: number;
  /** `messagesHeard` when the probe started: unchanged at its end means nothing reached us meanwhile. */
  readonly messagesHeardAtStart: number;
  helpersAsked: number;
  nacks: number;
  indirectTimer: TimerHandle | undefined;
  /** Already given its one grace for a late tick (see probeTick). */
  graced: boolean;
}

/** A ping this node sends on behalf of a requester (it is the helper of a ping-req). */
interface Relay {
  readonly requester: NodeId;
  readonly requesterSeq: number;
  readonly nackTimer: TimerHandle;
}

// 'sleeping' outranks suspect and dead at one incarnation: a member that said it is suspending is
// not failed, whatever a peer that had not heard so concluded from its silence.
const RANK: Readonly<Record<MemberState, number>> = { alive: 0, suspect: 1, dead: 2, sleeping: 3, left: 4 };

/**
 * Random draws per candidate before randomMembers falls back to a sweep (memberlist's kRandomNodes
 * uses 3n): picking k of n by rejection is O(k) when most candidates qualify, O(n) when few do.
 */
const RANDOM_DRAWS_PER_CANDIDATE = 3;

function isLive(state: MemberState): boolean {
  return state === 'alive' || state === 'suspect';
}

function snapshot(entry: MemberEntry): Member {
  return {
    id: entry.id,
    state: entry.state,
    incarnation: entry.incarnation,
    lastHeardAt: entry.lastHeardAt,
    stateChangedAt: entry.stateChangedAt,
  };
}

export class Swim {
  private readonly self: NodeId;
  private readonly config: EngramConfig;
  private readonly scheduler: Scheduler;
  private readonly random: Random;
  private readonly sendMessage: (to: NodeId, message: SwimMessage) => void;
  private readonly events: SwimEvents;

  private readonly entries = new Map<NodeId, MemberEntry>();
  private readonly selfEntry: MemberEntry;
  /** Alive + suspect members, this node included: the n of every log(n) formula. */
  private liveCount = 1;
  /** Dead members in reconnection round-robin order (the head is pinged next, then moved to the back). */
  private readonly dead = new Set<NodeId>();
  private readonly suspicions = new Map<NodeId, Suspicion>();
  private readonly broadcasts = new BroadcastQueue<Rumour>();
  private readonly awareness: Awareness;

  /** Every known member but this node, shuffled; rebuilt after each full pass (members that left the map are skipped). */
  private probeOrder: NodeId[] = [];
  private probeIndex = 0;
  private probe: PendingProbe | undefined;
  private readonly relays = new Map<number, Relay>();
  private nextSeq = 1;
  /** What sendSync sends; cleared on every change of membership (see digests()). */
  private digestCache: readonly MemberDigest[] | undefined;
  /** Inbound messages of any kind so far (see finishProbe). */
  private messagesHeard = 0;

  /** Seeds we sent a join to and have not heard of since: retried while we know nobody. */
  private readonly pendingSeeds = new Set<NodeId>();
  private running = false;
  private stopped = false;
  /** Between suspend() and resume(): this node told its peers it sleeps, and its timers are off. */
  private suspended = false;
  private probeTimer: TimerHandle | undefined;
  /** When the probe timer was meant to fire: a tick much later than this means we were held up. */
  private probeDueAt = 0;
  private syncTimer: TimerHandle | undefined;
  private reconnectTimer: TimerHandle | undefined;

  private readonly counters: SwimStats = {
    probes: 0,
    acks: 0,
    nacks: 0,
    indirectProbes: 0,
    failedProbes: 0,
    lateProbeGraces: 0,
    suspicionsRaised: 0,
    deathsDeclared: 0,
    refutations: 0,
    accusationsAtBound: 0,
    implausibleIncarnations: 0,
    reconnectProbes: 0,
    syncs: 0,
    messagesSent: 0,
    rumoursSent: 0,
  };

  constructor(options: SwimOptions) {
    this.self = options.self;
    this.config = options.config;
    this.scheduler = options.scheduler;
    this.random = options.random;
    this.sendMessage = options.send;
    this.events = options.events;
    this.awareness = new Awareness(options.config.awarenessMaxMultiplier);
    this.selfEntry = {
      id: options.self,
      state: 'alive',
      incarnation: options.incarnation,
      lastHeardAt: undefined,
      stateChangedAt: options.scheduler.now(),
      reapTimer: undefined,
    };
    this.entries.set(this.self, this.selfEntry);
  }

  get incarnation(): number {
    return this.selfEntry.incarnation;
  }

  get health(): number {
    return this.awareness.score;
  }

  get stats(): Readonly<Record<string, number>> {
    return { ...this.counters };
  }

  /** Begin probing; send a sync (join) to each seed. Seeds may be unknown yet; they become members when they answer. Calling start with more seeds later (new peers discovered) must be fine. */
  start(seeds: readonly NodeId[]): void {
    if (this.stopped) throw new EngramError('stopped', `SWIM on ${this.self} was stopped and cannot start again`);
    if (!this.running) {
      this.running = true;
      // Random phases, so that nodes started together do not probe (and sync) in lockstep.
      this.armProbe(this.phaseMs(this.config.probeIntervalMs));
      this.syncTimer = this.scheduler.setTimer(this.phaseMs(this.config.syncIntervalMs), this.syncTick);
      this.reconnectTimer = this.scheduler.setTimer(this.phaseMs(this.config.reconnectProbeIntervalMs), this.reconnectTick);
    }
    for (const seed of seeds) {
      if (seed === this.self) continue;
      if (!this.entries.has(seed)) this.pendingSeeds.add(seed);
      this.sendSync(seed, false);
    }
  }

  /** Stop every timer (no more sends). Final: a stopped instance ignores messages and cannot start again. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.running = false;
    this.probeTimer?.cancel();
    this.syncTimer?.cancel();
    this.reconnectTimer?.cancel();
    this.probe?.indirectTimer?.cancel();
    this.probe = undefined;
    for (const relay of this.relays.values()) relay.nackTimer.cancel();
    this.relays.clear();
    for (const suspicion of this.suspicions.values()) suspicion.cancel();
    this.suspicions.clear();
    for (const entry of this.entries.values()) entry.reapTimer?.cancel();
  }

  /** Explicit leave: gossip 'left' for ourselves (send it directly to every alive member too), then stop. */
  leave(): void {
    if (this.stopped) return;
    this.selfEntry.state = 'left';
    this.selfEntry.stateChangedAt = this.scheduler.now();
    this.digestCache = undefined;
    // Stopping ends piggybacking, so the claim goes out directly, as a one-way push (a sync that
    // asks for no reply) carrying only our own digest; receivers gossip it on from there.
    const push: SwimMessage = {
      type: 'sync',
      reply: true,
      members: [{ node: this.self, state: 'left', incarnation: this.selfEntry.incarnation }],
    };
    for (const entry of this.entries.values()) {
      if (entry !== this.selfEntry && isLive(entry.state)) this.transmit(entry.id, push);
    }
    this.stop();
  }

  /**
   * This node is about to be suspended (a browser tab's `freeze`): it tells every member it can
   * reach that it sleeps, under a new incarnation, so they stop probing it and show it as
   * sleeping instead of suspecting it and declaring it dead; then its timers stop. The probe in
   * flight is dropped unjudged: its silence would be our sleep, not the target's failure.
   */
  suspend(): void {
    if (!this.running || this.suspended) return;
    this.suspended = true;
    this.announceSelf('sleeping');
    this.probeTimer?.cancel();
    this.syncTimer?.cancel();
    this.reconnectTimer?.cancel();
    this.probe?.indirectTimer?.cancel();
    this.probe = undefined;
  }

  /**
   * Back from suspend(): alive again under a newer incarnation, said directly to every member
   * (as a sync, so each answers with its view and ours catches up with what changed meanwhile),
   * and probing restarts.
   */
  resume(): void {
    if (!this.suspended || this.stopped) return;
    this.suspended = false;
    this.announceSelf('alive');
    this.armProbe(this.phaseMs(this.config.probeIntervalMs));
    this.syncTimer = this.scheduler.setTimer(this.phaseMs(this.config.syncIntervalMs), this.syncTick);
    this.reconnectTimer = this.scheduler.setTimer(this.phaseMs(this.config.reconnectProbeIntervalMs), this.reconnectTick);
  }

  get isSuspended(): boolean {
    return this.suspended;
  }

  private announceSelf(state: 'alive' | 'sleeping'): void {
    this.selfEntry.incarnation += 1;
    this.selfEntry.state = state;
    this.selfEntry.stateChangedAt = this.scheduler.now();
    this.digestCache = undefined;
    this.events.onIncarnation(this.selfEntry.incarnation);
    const claim: Rumour = { kind: state, node: this.self, incarnation: this.selfEntry.incarnation, from: this.self };
    this.broadcasts.enqueue(this.self, claim, true);
    // Going to sleep, only our own digest (a one-way push, no reply wanted); waking, our whole
    // view, answered with theirs.
    const message: SwimMessage =
      state === 'sleeping'
        ? { type: 'sync', reply: true, members: [{ node: this.self, state, incarnation: this.selfEntry.incarnation }] }
        : { type: 'sync', reply: false, members: this.digests() };
    for (const entry of this.entries.values()) {
      if (entry !== this.selfEntry && isLive(entry.state)) this.transmit(entry.id, message);
    }
  }

  handle(from: NodeId, message: SwimMessage): void {
    if (this.stopped) return;
    this.heard(from);
    switch (message.type) {
      case 'ping': {
        const staleAccusation = this.applyAll(message.rumours);
        // A stale accusation of us (below our incarnation) needs no refutation, but the pinger evidently
        // holds it: correct it directly, or a healed member could stay dead in its eyes until a sync.
        const direct: Rumour[] = staleAccusation ? [this.selfAlive()] : [];
        this.transmit(from, { type: 'ack', seq: message.seq, rumours: this.piggyback(direct) });
        return;
      }
      case 'ack':
        this.applyAll(message.rumours);
        this.onAck(message.seq);
        return;
      case 'ping-req':
        this.applyAll(message.rumours);
        this.relay(from, message.seq, message.target);
        return;
      case 'nack':
        this.applyAll(message.rumours);
        if (this.probe?.seq === message.seq) {
          this.probe.nacks++;
          this.counters.nacks++;
        }
        return;
      case 'sync':
        this.merge(from, message.members);
        // Answered after merging, so the answer already reflects what the sender told us.
        if (!message.reply) this.sendSync(from, true);
        return;
    }
  }

  /** Any message from `from` arrived (not only SWIM): updates lastHeardAt. */
  heard(from: NodeId): void {
    if (this.stopped) return;
    this.messagesHeard++;
    const entry = this.entries.get(from);
    if (entry && entry !== this.selfEntry) entry.lastHeardAt = this.scheduler.now();
  }

  /** Current members, this node included (state alive, own incarnation; left after leave()), reaped ones excluded, sorted by id. */
  members(): Member[] {
    const out: Member[] = [];
    for (const entry of this.entries.values()) out.push(snapshot(entry));
    return out.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  member(id: NodeId): Member | undefined {
    const entry = this.entries.get(id);
    return entry ? snapshot(entry) : undefined;
  }

  /** A random whole-millisecond offset within one period (whole, so timer times stay exact). */
  private phaseMs(periodMs: number): number {
    return this.random.int(Math.max(1, Math.floor(periodMs)));
  }

  // ---- Probing ----

  private readonly probeTick = (): void => {
    const lateMs = this.scheduler.now() - this.probeDueAt;
    const probe = this.probe;
    if (probe && !probe.graced && lateMs > this.config.probeTimeoutMs) {
      // This tick fired long after it was due: our own thread was held up (a long task, a busy
      // machine), and the ack may be sitting unread in our inbox behind the timer. Judging now
      // would accuse a member of our own slowness. Lifeguard's answer: count it against our
      // local health, and give the ack one probe timeout to be read.
      probe.graced = true;
      this.counters.lateProbeGraces++;
      this.awareness.applyDelta(1);
      this.armProbe(this.config.probeTimeoutMs);
      return;
    }
    this.finishProbe();
    this.startProbe();
    // Scaled after judging the last probe, so a failure slows the very next one (Lifeguard).
    this.armProbe(this.awareness.scaleTimeout(this.config.probeIntervalMs));
  };

  private armProbe(delayMs: number): void {
    this.probeDueAt = this.scheduler.now() + delayMs;
    this.probeTimer = this.scheduler.setTimer(delayMs, this.probeTick);
  }

  private startProbe(): void {
    const target = this.nextProbeTarget();
    if (!target) return;
    const seq = this.nextSeq++;
    // A suspect learns of the suspicion from the probe itself and can refute in its ack.
    const direct: Rumour[] =
      target.state === 'suspect'
        ? [{ kind: 'suspect', node: target.id, incarnation: target.incarnation, from: this.self }]
        : [];
    this.probe = {
      seq,
      target: target.id,
      incarnation: target.incarnation,
      messagesHeardAtStart: this.messagesHeard,
      helpersAsked: 0,
      nacks: 0,
      indirectTimer: undefined,
      graced: false,
    };
    this.counters.probes++;
    this.transmit(target.id, { type: 'ping', seq, rumours: this.piggyback(direct) });
    this.probe.indirectTimer = this.scheduler.setTimer(
      this.awareness.scaleTimeout(this.config.probeTimeoutMs),
      this.probeIndirectly,
    );
  }

  private readonly probeIndirectly = (): void => {
    const probe = this.probe;
    if (!probe) return;
    probe.indirectTimer = undefined;
    const helpers = this.randomMembers(
      this.config.indirectChecks,
      (entry) => entry.state === 'alive' && entry.id !== probe.target,
    );
    for (const helper of helpers) {
      this.transmit(helper.id, { type: 'ping-req', seq: probe.seq, target: probe.target, rumours: this.piggyback([]) });
    }
    probe.helpersAsked = helpers.length;
    this.counters.indirectProbes += helpers.length;
  };

  private onAck(seq: number): void {
    const probe = this.probe;
    if (probe?.seq === seq) {
      probe.indirectTimer?.cancel();
      this.probe = undefined;
      this.counters.acks++;
      this.awareness.applyDelta(-1);
      return;
    }
    const relay = this.relays.get(seq);
    if (relay) {
      relay.nackTimer.cancel();
      this.relays.delete(seq);
      this.transmit(relay.requester, { type: 'ack', seq: relay.requesterSeq, rumours: this.piggyback([]) });
    }
  }

  /** Judges the probe still in flight at the end of its interval: no ack means suspect. */
  private finishProbe(): void {
    const probe = this.probe;
    if (!probe) return;
    this.probe = undefined;
    probe.indirectTimer?.cancel();
    this.counters.failedProbes++;
    // Lifeguard: a failed probe with no nack (or no helper to ask) suggests that we are the slow
    // one, so we slow down rather than accuse more members. Two cases clear us:
    // - one nack proves our ping-req went out and the answer came back in time, so the missing ones
    //   speak of those helpers, not of us. (memberlist adds one per missing nack; in a 3|2 split that
    //   throttles the minority side, whose helpers sit across the cut, to a worst detection of 3.6 s
    //   over 200 seeded runs; counted this way the worst is 1.4 s.)
    // - nothing at all reached us during the probe: we are cut off, not slow. Our suspicions cannot
    //   reach anyone, so slowing down protects no one and would only hide our isolation from our
    //   own view for seconds (worst 5.6 s over 200 seeded runs; 1.4 s without the slowdown).
    const cutOff = this.messagesHeard === probe.messagesHeardAtStart;
    if (probe.nacks === 0 && !cutOff) this.awareness.applyDelta(1);
    this.apply({ kind: 'suspect', node: probe.target, incarnation: probe.incarnation, from: this.self });
  }

  /** The next alive or suspect member of the shuffled round robin, reshuffling after each full pass. */
  private nextProbeTarget(): MemberEntry | undefined {
    let reshuffled = false;
    for (;;) {
      if (this.probeIndex >= this.probeOrder.length) {
        if (reshuffled) return undefined;
        this.reshuffle();
        reshuffled = true;
        continue;
      }
      const entry = this.entries.get(this.probeOrder[this.probeIndex++] as NodeId);
      if (entry && entry !== this.selfEntry && isLive(entry.state)) return entry;
    }
  }

  private reshuffle(): void {
    const ids: NodeId[] = [];
    for (const id of this.entries.keys()) if (id !== this.self) ids.push(id);
    this.probeOrder = shuffled(ids, this.random);
    this.probeIndex = 0;
  }

  /** memberlist inserts a new member at a random position, so it is probed within the current pass, at no predictable time. */
  private insertIntoProbeOrder(id: NodeId): void {
    const order = this.probeOrder;
    order.push(id);
    const position = this.random.int(order.length);
    order[order.length - 1] = order[position] as NodeId;
    order[position] = id;
  }

  /** As helper: ping `target` with our own seq, forward its ack to the requester, or nack if none comes. */
  private relay(requester: NodeId, requesterSeq: number, target: NodeId): void {
    const seq = this.nextSeq++;
    const nackTimer = this.scheduler.setTimer(this.config.probeTimeoutMs, () => {
      if (!this.relays.delete(seq)) return;
      this.transmit(requester, { type: 'nack', seq: requesterSeq, rumours: this.piggyback([]) });
    });
    this.relays.set(seq, { requester, requesterSeq, nackTimer });
    this.transmit(target, { type: 'ping', seq, rumours: this.piggyback([]) });
  }

  /** Up to `count` distinct random members (never this node) accepted by `accept`. */
  private randomMembers(count: number, accept: (entry: MemberEntry) => boolean): MemberEntry[] {
    const order = this.probeOrder;
    const chosen: MemberEntry[] = [];
    const consider = (id: NodeId | undefined): void => {
      const entry = id === undefined ? undefined : this.entries.get(id);
      if (entry && entry !== this.selfEntry && accept(entry) && !chosen.includes(entry)) chosen.push(entry);
    };
    const draws = RANDOM_DRAWS_PER_CANDIDATE * order.length;
    for (let draw = 0; draw < draws && chosen.length < count; draw++) consider(order[this.random.int(order.length)]);
    if (chosen.length < count && order.length > 0) {
      // Few candidates qualify (small or mostly failed cluster): random draws would miss some of
      // them, and a helper not asked is a nack not received. Sweep the rest from a random start.
      const start = this.random.int(order.length);
      for (let i = 0; i < order.length && chosen.length < count; i++) consider(order[(start + i) % order.length]);
    }
    return chosen;
  }

  // ---- Push-pull sync and reconnection ----

  private readonly syncTick = (): void => {
    this.syncTimer = this.scheduler.setTimer(this.config.syncIntervalMs, this.syncTick);
    if (this.entries.size === 1) {
      // Alone: our join got lost (or the seeds were not up yet); ask again.
      for (const seed of this.pendingSeeds) this.sendSync(seed, false);
      return;
    }
    // Dead members are candidates on purpose: a sync that gets through finds a healed partition
    // even when no rumour crosses it.
    const [peer] = this.randomMembers(1, (entry) => entry.state !== 'left');
    if (peer) this.sendSync(peer.id, false);
  };

  private sendSync(to: NodeId, reply: boolean): void {
    if (!reply) this.counters.syncs++;
    this.transmit(to, { type: 'sync', reply, members: this.digests() });
  }

  /** Our digests, rebuilt only after a change: in a steady 1,000-member cluster most syncs reuse them. */
  private digests(): readonly MemberDigest[] {
    if (!this.digestCache) {
      const digests: MemberDigest[] = [];
      for (const entry of this.entries.values()) {
        digests.push({ node: entry.id, state: entry.state, incarnation: entry.incarnation });
      }
      this.digestCache = digests;
    }
    return this.digestCache;
  }

  private readonly reconnectTick = (): void => {
    this.reconnectTimer = this.scheduler.setTimer(this.config.reconnectProbeIntervalMs, this.reconnectTick);
    const next = this.dead.values().next();
    if (next.done === true) return;
    this.reconnectProbe(next.value);
  };

  /**
   * A way to `id` has just opened (the transport connected to it again): if we hold it dead, send
   * its reconnection probe now rather than in its round-robin turn. With three members dead after
   * a partition, each is otherwise probed only every third tick, so a healed split would be seen
   * up to 1.2 s after the links were back.
   */
  reachable(id: NodeId): void {
    if (!this.running || !this.dead.has(id)) return;
    this.reconnectProbe(id);
  }

  private reconnectProbe(id: NodeId): void {
    this.dead.delete(id);
    this.dead.add(id);
    const entry = this.entries.get(id);
    if (!entry) return;
    this.counters.reconnectProbes++;
    // Only the dead claim rides along: piggybacking the queue on pings to members that are most
    // likely really gone would burn retransmissions the live members need.
    this.transmit(id, {
      type: 'ping',
      seq: this.nextSeq++,
      rumours: [{ kind: 'dead', node: id, incarnation: entry.incarnation, from: this.self }],
    });
  }

  /** Merges a peer's membership view: each digest counts as a rumour from that peer. */
  private merge(from: NodeId, digests: readonly MemberDigest[]): void {
    for (const digest of digests) {
      // Fast path for the common case, an alive digest we already know: it cannot change anything.
      if (digest.state === 'alive' && digest.incarnation <= (this.entries.get(digest.node)?.incarnation ?? -1)) continue;
      // memberlist's mergeState: a remote 'dead' is only a suspicion here. The sender may have
      // declared it across a partition that has just healed; suspecting lets the member refute
      // before we count it as gone, instead of spreading a false death through our side.
      const kind: RumourKind = digest.state === 'dead' ? 'suspect' : digest.state;
      const rumour: Rumour = { kind, node: digest.node, incarnation: digest.incarnation, from };
      if (!this.ignored(rumour)) this.apply(rumour);
    }
  }

  // ---- Rumours ----

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
    if (rumour.incarnation > (this.entries.get(rumour.node)?.incarnation ?? 0) + LIMITS.incarnationLeap) {
      this.counters.implausibleIncarnations++;
      return true;
    }
    return false;
  }

  /** Applies rumours in order; returns whether any of them was a stale accusation of this node (too old to refute). */
  private applyAll(rumours: readonly Rumour[]): boolean {
    let staleAccusation = false;
    for (const rumour of rumours) {
      if (this.ignored(rumour)) continue;
      if (rumour.node === this.self && rumour.kind !== 'alive' && rumour.incarnation < this.selfEntry.incarnation) {
        staleAccusation = true;
      }
      this.apply(rumour);
    }
    return staleAccusation;
  }

  /** memberlist's precedence: aliveNode / suspectNode / deadNode, with 'left' above 'dead' at equal incarnation. */
  private apply(rumour: Rumour): void {
    if (rumour.node === this.self) {
      this.applyAboutSelf(rumour);
      return;
    }
    const entry = this.entries.get(rumour.node);
    switch (rumour.kind) {
      case 'alive':
        if (!entry) {
          this.add(rumour);
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

  private applyAboutSelf(rumour: Rumour): void {
    // Asleep, we said so ourselves: our own claim echoed back, or a peer's doubt, waits for resume().
    if (this.suspended) return;
    const own = this.selfEntry.incarnation;
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
    this.selfEntry.incarnation = Math.min(accusedIncarnation + 1, LIMITS.counter);
    this.digestCache = undefined;
    this.counters.refutations++;
    this.awareness.applyDelta(awarenessDelta);
    this.broadcasts.enqueue(this.self, this.selfAlive(), true);
    this.events.onIncarnation(this.selfEntry.incarnation);
  }

  private selfAlive(): Rumour {
    return { kind: 'alive', node: this.self, incarnation: this.selfEntry.incarnation, from: this.self };
  }

  private add(rumour: Rumour): void {
    const entry: MemberEntry = {
      id: rumour.node,
      state: 'alive',
      incarnation: rumour.incarnation,
      lastHeardAt: undefined,
      stateChangedAt: this.scheduler.now(),
      reapTimer: undefined,
    };
    this.entries.set(entry.id, entry);
    this.digestCache = undefined;
    this.liveCount++;
    this.pendingSeeds.delete(entry.id);
    this.insertIntoProbeOrder(entry.id);
    this.events.onMemberChange(snapshot(entry), undefined);
  }

  private transition(entry: MemberEntry, state: MemberState, incarnation: number): void {
    const previous = snapshot(entry);
    const was = entry.state;
    if (was === 'suspect' && state !== 'suspect') {
      this.suspicions.get(entry.id)?.cancel();
      this.suspicions.delete(entry.id);
    }
    if (was !== state) {
      entry.stateChangedAt = this.scheduler.now();
      this.liveCount += (isLive(state) ? 1 : 0) - (isLive(was) ? 1 : 0);
      if (state === 'dead') this.dead.add(entry.id);
      else this.dead.delete(entry.id);
      entry.reapTimer?.cancel();
      entry.reapTimer = isLive(state) ? undefined : this.scheduler.setTimer(this.config.reapAfterMs, () => this.reap(entry));
    }
    entry.state = state;
    entry.incarnation = incarnation;
    this.digestCache = undefined;
    this.events.onMemberChange(snapshot(entry), previous);
  }

  private startSuspicion(entry: MemberEntry, from: NodeId): void {
    const { minMs, maxMs } = suspicionBoundsMs(this.config, this.liveCount);
    // memberlist: when fewer members than K could confirm (n minus us and the suspect), waiting
    // for confirmations that cannot come would only delay the verdict, so expect none.
    const expected = this.liveCount - 2 < this.config.suspicionConfirmations ? 0 : this.config.suspicionConfirmations;
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

  private reap(entry: MemberEntry): void {
    if (this.entries.get(entry.id) !== entry || isLive(entry.state)) return;
    this.entries.delete(entry.id);
    this.digestCache = undefined;
    this.dead.delete(entry.id);
    this.events.onMemberReaped(entry.id);
  }

  // ---- Sending ----

  /** Direct rumours first, then up to maxPiggyback in all from the queue. */
  private piggyback(direct: Rumour[]): Rumour[] {
    const room = this.config.maxPiggyback - direct.length;
    if (room <= 0) return direct;
    const queued = this.broadcasts.take(room, retransmitLimit(this.config.retransmitMult, this.liveCount));
    return direct.length === 0 ? queued : direct.concat(queued);
  }

  private transmit(to: NodeId, message: SwimMessage): void {
    // An event handler may have stopped us in the middle of handling a message.
    if (this.stopped) return;
    this.counters.messagesSent++;
    if (message.type !== 'sync') this.counters.rumoursSent += message.rumours.length;
    this.sendMessage(to, message);
  }
}

/** memberlist's order of states at equal incarnation (alive < suspect < dead < left); exported for tests and the simulator. */
export function stateRank(state: MemberState): number {
  return RANK[state];
}
