/**
 * SWIM's failure detector: once per probe interval, ping the next member of a shuffled round
 * robin; without an ack within the probe timeout, ask helpers to ping it for us (ping-req), which
 * nack if they hear nothing either; a probe still unanswered when the next interval starts makes
 * its target a suspect. As a helper, relay others' ping-reqs. Lifeguard's local health
 * (awareness.ts) scales both the interval and the timeout, and a tick that fires late is given
 * one grace instead of blaming the target for our own slowness. Verdicts go to rumours.ts; the
 * member table (swim-members.ts) says who can be probed.
 */
import type { Awareness } from './awareness.js';
import type { EngramConfig } from './config.js';
import { isLive, type MemberEntry, type MemberTable } from './swim-members.js';
import type { Random, Scheduler, TimerHandle } from './ports.js';
import { shuffled } from './random.js';
import type { Rumour, SwimMessage, SwimStats } from './swim-messages.js';
import type { NodeId } from './types.js';

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
  /** Already given its one grace for a late tick (see tick). */
  graced: boolean;
}

/** A ping this node sends on behalf of a requester (it is the helper of a ping-req). */
interface Relay {
  readonly requester: NodeId;
  readonly requesterSeq: number;
  readonly nackTimer: TimerHandle;
}

/**
 * Random draws per candidate before randomMembers falls back to a sweep (memberlist's kRandomNodes
 * uses 3n): picking k of n by rejection is O(k) when most candidates qualify, O(n) when few do.
 */
const RANDOM_DRAWS_PER_CANDIDATE = 3;

export interface ProbeCycleOptions {
  self: NodeId;
  config: EngramConfig;
  scheduler: Scheduler;
  random: Random;
  table: MemberTable;
  awareness: Awareness;
  counters: SwimStats;
  send(to: NodeId, message: SwimMessage): void;
  /** Direct rumours first, then what the piggyback queue holds (rumours.ts). */
  piggyback(direct: Rumour[]): Rumour[];
  /** This node's verdict on a probe that failed: a suspect rumour of its own. */
  suspect(rumour: Rumour): void;
  /** Inbound messages of any kind so far (see finishProbe). */
  messagesHeard(): number;
}

export class ProbeCycle {
  private readonly self: NodeId;
  private readonly config: EngramConfig;
  private readonly scheduler: Scheduler;
  private readonly random: Random;
  private readonly table: MemberTable;
  private readonly awareness: Awareness;
  private readonly counters: SwimStats;
  private readonly options: ProbeCycleOptions;

  /** Every known member but this node, shuffled; rebuilt after each full pass (members that left the table are skipped). */
  private probeOrder: NodeId[] = [];
  private probeIndex = 0;
  private probe: PendingProbe | undefined;
  private readonly relays = new Map<number, Relay>();
  private seq = 1;
  private probeTimer: TimerHandle | undefined;
  /** When the probe timer was meant to fire: a tick much later than this means we were held up. */
  private probeDueAt = 0;

  constructor(options: ProbeCycleOptions) {
    this.options = options;
    this.self = options.self;
    this.config = options.config;
    this.scheduler = options.scheduler;
    this.random = options.random;
    this.table = options.table;
    this.awareness = options.awareness;
    this.counters = options.counters;
  }

  /** A fresh sequence number (probes, relays and reconnection probes share one sequence). */
  nextSeq(): number {
    return this.seq++;
  }

  /** The next tick in `delayMs`. */
  arm(delayMs: number): void {
    this.probeDueAt = this.scheduler.now() + delayMs;
    this.probeTimer = this.scheduler.setTimer(delayMs, this.tick);
  }

  /**
   * Stops ticking and drops the probe in flight unjudged (a suspend: its silence would be our
   * sleep, not the target's failure). Relays in flight still answer their requesters.
   */
  pause(): void {
    this.probeTimer?.cancel();
    this.probe?.indirectTimer?.cancel();
    this.probe = undefined;
  }

  /** Stops everything, relays included (the node stopped). */
  stop(): void {
    this.pause();
    for (const relay of this.relays.values()) relay.nackTimer.cancel();
    this.relays.clear();
  }

  onAck(seq: number): void {
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
      this.options.send(relay.requester, { type: 'ack', seq: relay.requesterSeq, rumours: this.options.piggyback([]) });
    }
  }

  onNack(seq: number): void {
    if (this.probe?.seq === seq) {
      this.probe.nacks++;
      this.counters.nacks++;
    }
  }

  /** As helper: ping `target` with our own seq, forward its ack to the requester, or nack if none comes. */
  relay(requester: NodeId, requesterSeq: number, target: NodeId): void {
    const seq = this.nextSeq();
    const nackTimer = this.scheduler.setTimer(this.config.probeTimeoutMs, () => {
      if (!this.relays.delete(seq)) return;
      this.options.send(requester, { type: 'nack', seq: requesterSeq, rumours: this.options.piggyback([]) });
    });
    this.relays.set(seq, { requester, requesterSeq, nackTimer });
    this.options.send(target, { type: 'ping', seq, rumours: this.options.piggyback([]) });
  }

  /** memberlist inserts a new member at a random position, so it is probed within the current pass, at no predictable time. */
  insert(id: NodeId): void {
    const order = this.probeOrder;
    order.push(id);
    const position = this.random.int(order.length);
    order[order.length - 1] = order[position] as NodeId;
    order[position] = id;
  }

  /** Up to `count` distinct random members (never this node) accepted by `accept`. */
  randomMembers(count: number, accept: (entry: MemberEntry) => boolean): MemberEntry[] {
    const order = this.probeOrder;
    const chosen: MemberEntry[] = [];
    const consider = (id: NodeId | undefined): void => {
      const entry = id === undefined ? undefined : this.table.get(id);
      if (entry && entry !== this.table.self && accept(entry) && !chosen.includes(entry)) chosen.push(entry);
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

  private readonly tick = (): void => {
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
      this.arm(this.config.probeTimeoutMs);
      return;
    }
    this.finishProbe();
    this.startProbe();
    // Scaled after judging the last probe, so a failure slows the very next one (Lifeguard).
    this.arm(this.awareness.scaleTimeout(this.config.probeIntervalMs));
  };

  private startProbe(): void {
    const target = this.nextProbeTarget();
    if (!target) return;
    const seq = this.nextSeq();
    // A suspect learns of the suspicion from the probe itself and can refute in its ack.
    const direct: Rumour[] =
      target.state === 'suspect'
        ? [{ kind: 'suspect', node: target.id, incarnation: target.incarnation, from: this.self }]
        : [];
    this.probe = {
      seq,
      target: target.id,
      incarnation: target.incarnation,
      messagesHeardAtStart: this.options.messagesHeard(),
      helpersAsked: 0,
      nacks: 0,
      indirectTimer: undefined,
      graced: false,
    };
    this.counters.probes++;
    this.options.send(target.id, { type: 'ping', seq, rumours: this.options.piggyback(direct) });
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
      this.options.send(helper.id, { type: 'ping-req', seq: probe.seq, target: probe.target, rumours: this.options.piggyback([]) });
    }
    probe.helpersAsked = helpers.length;
    this.counters.indirectProbes += helpers.length;
  };

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
    const cutOff = this.options.messagesHeard() === probe.messagesHeardAtStart;
    if (probe.nacks === 0 && !cutOff) this.awareness.applyDelta(1);
    this.options.suspect({ kind: 'suspect', node: probe.target, incarnation: probe.incarnation, from: this.self });
  }

  /** The next alive or suspect member of the shuffled round robin, reshuffling after each full pass. */
  private nextProbeTarget(): MemberEntry | undefined {
    let reshuffled = false;
    for (;;) {
      if (this.probeIndex >= this.probeOrder.length) {
        if (reshuffled) return undefined;
        this.probeOrder = shuffled(this.table.others(), this.random);
        this.probeIndex = 0;
        reshuffled = true;
        continue;
      }
      const entry = this.table.get(this.probeOrder[this.probeIndex++] as NodeId);
      if (entry && entry !== this.table.self && isLive(entry.state)) return entry;
    }
  }
}
