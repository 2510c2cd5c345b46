/**
 * SWIM membership with the Lifeguard extensions, as a pure state machine modelled on
 * hashicorp/memberlist: this facade runs the lifecycle (start, stop, leave, suspend, resume),
 * dispatches messages, and runs push-pull sync and reconnection probes to dead members. The
 * mechanisms are one module each, as memberlist has one file each:
 * - swim-members.ts: what is known of each member, the live count, reaping;
 * - rumours.ts: which claim wins, suspicion timers (suspicion.ts), refutation by incarnation, and
 *   the piggyback queue (broadcast.ts);
 * - probe-cycle.ts: direct and indirect probes, relays for others, Lifeguard's late-tick grace
 *   and timeout scaling (awareness.ts);
 * - swim-messages.ts: the messages and counters they share.
 *
 * Nothing here reads a clock or a random source directly: time comes from the Scheduler port
 * and randomness from the Random port, so the simulator replays a run exactly and runs it at
 * thousands of virtual seconds per real second. Work per period is O(members); per message
 * O(rumours carried), except sync which is O(members) by nature.
 */
import { Awareness } from './awareness.js';
import type { EngramConfig } from './config.js';
import { EngramError } from './errors.js';
import { isLive, MemberTable } from './swim-members.js';
import type { Random, Scheduler, TimerHandle } from './ports.js';
import { ProbeCycle } from './probe-cycle.js';
import { Rumours } from './rumours.js';
import type { Rumour, SwimMessage, SwimStats } from './swim-messages.js';
import type { Member, NodeId } from './types.js';

export { stateRank } from './swim-members.js';
export type { MemberDigest, Rumour, RumourKind, SwimMessage, SwimStats } from './swim-messages.js';

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

export class Swim {
  private readonly self: NodeId;
  private readonly config: EngramConfig;
  private readonly scheduler: Scheduler;
  private readonly random: Random;
  private readonly sendMessage: (to: NodeId, message: SwimMessage) => void;
  private readonly events: SwimEvents;

  private readonly awareness: Awareness;
  private readonly table: MemberTable;
  private readonly rumours: Rumours;
  private readonly probes: ProbeCycle;
  /** Inbound messages of any kind so far (the probe cycle tells slow from cut off by it). */
  private messagesHeard = 0;

  /** Seeds we sent a join to and have not heard of since: retried while we know nobody. */
  private readonly pendingSeeds = new Set<NodeId>();
  private running = false;
  private stopped = false;
  /** Between suspend() and resume(): this node told its peers it sleeps, and its timers are off. */
  private suspended = false;
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
    this.table = new MemberTable({
      self: options.self,
      incarnation: options.incarnation,
      scheduler: options.scheduler,
      reapAfterMs: options.config.reapAfterMs,
      onAdded: (id) => {
        this.pendingSeeds.delete(id);
        this.probes.insert(id);
      },
      onMemberChange: (member, previous) => this.events.onMemberChange(member, previous),
      onMemberReaped: (id) => this.events.onMemberReaped(id),
    });
    this.rumours = new Rumours({
      self: options.self,
      config: options.config,
      scheduler: options.scheduler,
      table: this.table,
      awareness: this.awareness,
      counters: this.counters,
      isSuspended: () => this.suspended,
      onIncarnation: (incarnation) => this.events.onIncarnation(incarnation),
    });
    this.probes = new ProbeCycle({
      self: options.self,
      config: options.config,
      scheduler: options.scheduler,
      random: options.random,
      table: this.table,
      awareness: this.awareness,
      counters: this.counters,
      send: (to, message) => this.transmit(to, message),
      piggyback: (direct) => this.rumours.piggyback(direct),
      suspect: (rumour) => this.rumours.apply(rumour),
      messagesHeard: () => this.messagesHeard,
    });
  }

  get incarnation(): number {
    return this.table.self.incarnation;
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
      this.startTimers();
    }
    for (const seed of seeds) {
      if (seed === this.self) continue;
      if (!this.table.has(seed)) this.pendingSeeds.add(seed);
      this.sendSync(seed, false);
    }
  }

  /** Stop every timer (no more sends). Final: a stopped instance ignores messages and cannot start again. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.running = false;
    this.syncTimer?.cancel();
    this.reconnectTimer?.cancel();
    this.probes.stop();
    this.rumours.stop();
    this.table.stop();
  }

  /** Explicit leave: gossip 'left' for ourselves (send it directly to every alive member too), then stop. */
  leave(): void {
    if (this.stopped) return;
    this.table.updateSelf({ state: 'left' });
    // Stopping ends piggybacking, so the claim goes out directly, as a one-way push (a sync that
    // asks for no reply) carrying only our own digest; receivers gossip it on from there.
    const push: SwimMessage = {
      type: 'sync',
      reply: true,
      members: [{ node: this.self, state: 'left', incarnation: this.table.self.incarnation }],
    };
    this.sendToLive(push);
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
    this.probes.pause();
    this.syncTimer?.cancel();
    this.reconnectTimer?.cancel();
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
    this.startTimers();
  }

  get isSuspended(): boolean {
    return this.suspended;
  }

  handle(from: NodeId, message: SwimMessage): void {
    if (this.stopped) return;
    this.heard(from);
    switch (message.type) {
      case 'ping': {
        const staleAccusation = this.rumours.applyAll(message.rumours);
        // A stale accusation of us (below our incarnation) needs no refutation, but the pinger evidently
        // holds it: correct it directly, or a healed member could stay dead in its eyes until a sync.
        const direct: Rumour[] = staleAccusation ? [this.rumours.selfAlive()] : [];
        this.transmit(from, { type: 'ack', seq: message.seq, rumours: this.rumours.piggyback(direct) });
        return;
      }
      case 'ack':
        this.rumours.applyAll(message.rumours);
        this.probes.onAck(message.seq);
        return;
      case 'ping-req':
        this.rumours.applyAll(message.rumours);
        this.probes.relay(from, message.seq, message.target);
        return;
      case 'nack':
        this.rumours.applyAll(message.rumours);
        this.probes.onNack(message.seq);
        return;
      case 'sync':
        this.rumours.merge(from, message.members);
        // Answered after merging, so the answer already reflects what the sender told us.
        if (!message.reply) this.sendSync(from, true);
        return;
    }
  }

  /** Any message from `from` arrived (not only SWIM): updates lastHeardAt. */
  heard(from: NodeId): void {
    if (this.stopped) return;
    this.messagesHeard++;
    this.table.heard(from);
  }

  /** Current members, this node included (state alive, own incarnation; left after leave()), reaped ones excluded, sorted by id. */
  members(): Member[] {
    return this.table.members();
  }

  member(id: NodeId): Member | undefined {
    return this.table.member(id);
  }

  /**
   * A way to `id` has just opened (the transport connected to it again): if we hold it dead, send
   * its reconnection probe now rather than in its round-robin turn. With three members dead after
   * a partition, each is otherwise probed only every third tick, so a healed split would be seen
   * up to 1.2 s after the links were back.
   */
  reachable(id: NodeId): void {
    if (!this.running || !this.table.isDead(id)) return;
    this.reconnectProbe(id);
  }

  /** Probe, sync and reconnection timers, each at a random phase, so that nodes started together do not probe (and sync) in lockstep. */
  private startTimers(): void {
    this.probes.arm(this.phaseMs(this.config.probeIntervalMs));
    this.syncTimer = this.scheduler.setTimer(this.phaseMs(this.config.syncIntervalMs), this.syncTick);
    this.reconnectTimer = this.scheduler.setTimer(this.phaseMs(this.config.reconnectProbeIntervalMs), this.reconnectTick);
  }

  /** A random whole-millisecond offset within one period (whole, so timer times stay exact). */
  private phaseMs(periodMs: number): number {
    return this.random.int(Math.max(1, Math.floor(periodMs)));
  }

  private announceSelf(state: 'alive' | 'sleeping'): void {
    this.table.updateSelf({ state, incarnation: this.table.self.incarnation + 1 });
    const incarnation = this.table.self.incarnation;
    this.events.onIncarnation(incarnation);
    this.rumours.announce({ kind: state, node: this.self, incarnation, from: this.self });
    // Going to sleep, only our own digest (a one-way push, no reply wanted); waking, our whole
    // view, answered with theirs.
    const message: SwimMessage =
      state === 'sleeping'
        ? { type: 'sync', reply: true, members: [{ node: this.self, state, incarnation }] }
        : { type: 'sync', reply: false, members: this.table.digests() };
    this.sendToLive(message);
  }

  /** `message` directly to every alive or suspect member. */
  private sendToLive(message: SwimMessage): void {
    for (const entry of this.table.values()) {
      if (entry !== this.table.self && isLive(entry.state)) this.transmit(entry.id, message);
    }
  }

  // ---- Push-pull sync and reconnection ----

  private readonly syncTick = (): void => {
    this.syncTimer = this.scheduler.setTimer(this.config.syncIntervalMs, this.syncTick);
    if (this.table.size === 1) {
      // Alone: our join got lost (or the seeds were not up yet); ask again.
      for (const seed of this.pendingSeeds) this.sendSync(seed, false);
      return;
    }
    // Dead members are candidates on purpose: a sync that gets through finds a healed partition
    // even when no rumour crosses it.
    const [peer] = this.probes.randomMembers(1, (entry) => entry.state !== 'left');
    if (peer) this.sendSync(peer.id, false);
  };

  private sendSync(to: NodeId, reply: boolean): void {
    if (!reply) this.counters.syncs++;
    this.transmit(to, { type: 'sync', reply, members: this.table.digests() });
  }

  private readonly reconnectTick = (): void => {
    this.reconnectTimer = this.scheduler.setTimer(this.config.reconnectProbeIntervalMs, this.reconnectTick);
    const next = this.table.nextDead();
    if (next === undefined) return;
    this.reconnectProbe(next);
  };

  private reconnectProbe(id: NodeId): void {
    this.table.rotateDead(id);
    const entry = this.table.get(id);
    if (!entry) return;
    this.counters.reconnectProbes++;
    // Only the dead claim rides along: piggybacking the queue on pings to members that are most
    // likely really gone would burn retransmissions the live members need.
    this.transmit(id, {
      type: 'ping',
      seq: this.probes.nextSeq(),
      rumours: [{ kind: 'dead', node: id, incarnation: entry.incarnation, from: this.self }],
    });
  }

  private transmit(to: NodeId, message: SwimMessage): void {
    // An event handler may have stopped us in the middle of handling a message.
    if (this.stopped) return;
    this.counters.messagesSent++;
    if (message.type !== 'sync') this.counters.rumoursSent += message.rumours.length;
    this.sendMessage(to, message);
  }
}
