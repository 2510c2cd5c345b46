/**
 * SWIM's member table: what one node knows of each member (state, incarnation, when it was
 * last heard) and the timer that forgets a dead or left member after reapAfterMs. The table
 * applies no rules of its own; rumours.ts decides which claims win and calls `add` and
 * `transition` here. It keeps the figures the other mechanisms read from it: the live count
 * (the n of every log(n) formula), the dead members' reconnection round robin, and the digests
 * a push-pull sync sends.
 */
import type { Scheduler, TimerHandle } from './ports.js';
import type { MemberDigest } from './swim-messages.js';
import type { Member, MemberState, NodeId } from './types.js';

/** What this node knows of one member; mutable inside the table, handed out as Member snapshots. */
export interface MemberEntry {
  readonly id: NodeId;
  state: MemberState;
  incarnation: number;
  lastHeardAt: number | undefined;
  stateChangedAt: number;
  reapTimer: TimerHandle | undefined;
}

// 'sleeping' outranks suspect and dead at one incarnation: a member that said it is suspending is
// not failed, whatever a peer that had not heard so concluded from its silence.
const RANK: Readonly<Record<MemberState, number>> = { alive: 0, suspect: 1, dead: 2, sleeping: 3, left: 4 };

/** memberlist's order of states at equal incarnation (alive < suspect < dead < left); exported for tests and the simulator. */
export function stateRank(state: MemberState): number {
  return RANK[state];
}

/** Alive and suspect members are probed and counted in n; the others are not. */
export function isLive(state: MemberState): boolean {
  return state === 'alive' || state === 'suspect';
}

export function snapshot(entry: MemberEntry): Member {
  return {
    id: entry.id,
    state: entry.state,
    incarnation: entry.incarnation,
    lastHeardAt: entry.lastHeardAt,
    stateChangedAt: entry.stateChangedAt,
  };
}

export interface MemberTableOptions {
  self: NodeId;
  incarnation: number;
  scheduler: Scheduler;
  reapAfterMs: number;
  /** A member was just added, before its change is reported: the probe cycle slots it in. */
  onAdded(id: NodeId): void;
  /** A member was added, changed state or incarnation (previous undefined = newly known). Not called for this node itself. */
  onMemberChange(member: Member, previous: Member | undefined): void;
  /** A dead or left member was forgotten after reapAfterMs. */
  onMemberReaped(id: NodeId): void;
}

export class MemberTable {
  /** This node's own entry: always present, never reaped, changed only through `updateSelf`. */
  readonly self: MemberEntry;
  private readonly entries = new Map<NodeId, MemberEntry>();
  private readonly scheduler: Scheduler;
  private readonly options: MemberTableOptions;
  private live = 1;
  /** Dead members in reconnection round-robin order (the head is pinged next, then moved to the back). */
  private readonly dead = new Set<NodeId>();
  /** What `digests` returns; cleared on every change of membership. */
  private digestCache: readonly MemberDigest[] | undefined;

  constructor(options: MemberTableOptions) {
    this.options = options;
    this.scheduler = options.scheduler;
    this.self = {
      id: options.self,
      state: 'alive',
      incarnation: options.incarnation,
      lastHeardAt: undefined,
      stateChangedAt: options.scheduler.now(),
      reapTimer: undefined,
    };
    this.entries.set(options.self, this.self);
  }

  /** Alive + suspect members, this node included: the n of every log(n) formula. */
  get liveCount(): number {
    return this.live;
  }

  /** Known members, this node included. */
  get size(): number {
    return this.entries.size;
  }

  get(id: NodeId): MemberEntry | undefined {
    return this.entries.get(id);
  }

  has(id: NodeId): boolean {
    return this.entries.has(id);
  }

  /** Every entry, this node's included, in insertion order. */
  values(): IterableIterator<MemberEntry> {
    return this.entries.values();
  }

  /** Every known member's id but this node's. */
  others(): NodeId[] {
    const ids: NodeId[] = [];
    for (const id of this.entries.keys()) if (id !== this.self.id) ids.push(id);
    return ids;
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

  /** Any message from `from` arrived. */
  heard(from: NodeId): void {
    const entry = this.entries.get(from);
    if (entry && entry !== this.self) entry.lastHeardAt = this.scheduler.now();
  }

  /** Our digests, rebuilt only after a change: in a steady 1,000-member cluster most syncs reuse them. */
  digests(): readonly MemberDigest[] {
    if (!this.digestCache) {
      const digests: MemberDigest[] = [];
      for (const entry of this.entries.values()) {
        digests.push({ node: entry.id, state: entry.state, incarnation: entry.incarnation });
      }
      this.digestCache = digests;
    }
    return this.digestCache;
  }

  /** This node's own claim changed: a new state (stamped now) and/or a new incarnation. */
  updateSelf(change: { state?: MemberState; incarnation?: number }): void {
    if (change.incarnation !== undefined) this.self.incarnation = change.incarnation;
    if (change.state !== undefined) {
      this.self.state = change.state;
      this.self.stateChangedAt = this.scheduler.now();
    }
    this.digestCache = undefined;
  }

  /** A member newly heard of, alive at `incarnation`. */
  add(id: NodeId, incarnation: number): MemberEntry {
    const entry: MemberEntry = {
      id,
      state: 'alive',
      incarnation,
      lastHeardAt: undefined,
      stateChangedAt: this.scheduler.now(),
      reapTimer: undefined,
    };
    this.entries.set(id, entry);
    this.digestCache = undefined;
    this.live++;
    this.options.onAdded(id);
    this.options.onMemberChange(snapshot(entry), undefined);
    return entry;
  }

  /** Moves a known member to `state` at `incarnation`; a member no longer live is reaped after reapAfterMs unless it comes back first. */
  transition(entry: MemberEntry, state: MemberState, incarnation: number): void {
    const previous = snapshot(entry);
    const was = entry.state;
    if (was !== state) {
      entry.stateChangedAt = this.scheduler.now();
      this.live += (isLive(state) ? 1 : 0) - (isLive(was) ? 1 : 0);
      if (state === 'dead') this.dead.add(entry.id);
      else this.dead.delete(entry.id);
      entry.reapTimer?.cancel();
      entry.reapTimer = isLive(state) ? undefined : this.scheduler.setTimer(this.options.reapAfterMs, () => this.reap(entry));
    }
    entry.state = state;
    entry.incarnation = incarnation;
    this.digestCache = undefined;
    this.options.onMemberChange(snapshot(entry), previous);
  }

  isDead(id: NodeId): boolean {
    return this.dead.has(id);
  }

  /** The dead member whose reconnection probe is due next, if any. */
  nextDead(): NodeId | undefined {
    const next = this.dead.values().next();
    return next.done === true ? undefined : next.value;
  }

  /** `id` was just probed for reconnection: it goes to the back of the round robin. */
  rotateDead(id: NodeId): void {
    this.dead.delete(id);
    this.dead.add(id);
  }

  /** Cancels every reap timer (the node stopped). */
  stop(): void {
    for (const entry of this.entries.values()) entry.reapTimer?.cancel();
  }

  private reap(entry: MemberEntry): void {
    if (this.entries.get(entry.id) !== entry || isLive(entry.state)) return;
    this.entries.delete(entry.id);
    this.digestCache = undefined;
    this.dead.delete(entry.id);
    this.options.onMemberReaped(entry.id);
  }
}
