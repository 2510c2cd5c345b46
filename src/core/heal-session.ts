/**
 * A heal session (heal.ts) as data: its state on either side, the progress and reports it gives
 * the node, what the healer needs from its node (HealHost), and admission, i.e. which sessions
 * may run at once. A node receives in one session at a time, so it never receives the same record
 * from two peers at once; while it receives it may still serve others one-way, up to
 * healMaxServing of them.
 */
import type { EngramConfig } from './config.js';
import type { MerkleTree } from './merkle.js';
import type { Random, Scheduler, TimerHandle } from './ports.js';
import type { GenerationEntry, MemoryId, MemoryRecord, NodeId, Version, VersionVector } from './types.js';
import type { GenerationLog, Message } from './wire.js';

export type HealMessage = Extract<Message, { type: `heal-${string}` }>;

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
  apply(records: readonly MemoryRecord[], peer: NodeId, peerFrontier?: VersionVector): Promise<readonly Version[]>;
  /** This node's frontier (frontier.ts), its own entry included. */
  frontier(): VersionVector;
  /** A peer whose root equalled ours sent this frontier (with or before that root). */
  learnFrontier(peer: NodeId, frontier: VersionVector): void;
  /**
   * Of records the peer lacks altogether, the ones to ship: a record every version of which the
   * peer's frontier makes obsolete is dropped here instead (its obsolete versions in any case).
   */
  shipOrDrop(ids: readonly MemoryId[], peerFrontier: VersionVector): MemoryId[];
  /** Recent generation logs of every node this one knows about (itself included). */
  generationLogs(): GenerationLog[];
  learnGenerations(logs: readonly GenerationLog[]): void;
  generationEntry(node: NodeId, generation: number): GenerationEntry | undefined;
  progress(progress: HealProgress): void;
  finished(report: HealReport): void;
}

/** One heal session's state, on either side; the healer (heal.ts) and its shipping (heal-shipping.ts) move it along. */
export interface Session {
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
  /** The frontier the peer sent in its heal-open or heal-reply. */
  peerFrontier: VersionVector;
}

export function newSession(id: number, peer: NodeId, role: 'initiator' | 'responder', startedAt: number): Session {
  return {
    id,
    peer,
    role,
    oneWay: false,
    startedAt,
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
    peerFrontier: {},
  };
}

/** What admission decided for a heal-open: receive in it, serve it one-way, or turn it away. */
export type Admission = 'receive' | 'serve' | 'busy';

/** The sessions a healer runs: the one it receives in, and the one-way ones it serves. */
export class HealSessions {
  /** The session this node receives in (two-way, or one-way as the opener), if any. */
  receiving: Session | undefined;
  /** One-way sessions in which this node only sends, by `${peer} ${session id}`. */
  private readonly serving = new Map<string, Session>();

  constructor(
    private readonly self: NodeId,
    private readonly maxServing: number,
  ) {}

  /** Peers this node is serving one-way right now. */
  get servingPeers(): NodeId[] {
    return [...this.serving.values()].map((session) => session.peer);
  }

  all(): Session[] {
    return [...(this.receiving ? [this.receiving] : []), ...this.serving.values()];
  }

  /** The live session a message from `from` about `session` belongs to. */
  find(from: NodeId, session: number): Session | undefined {
    return this.receiving?.peer === from && this.receiving.id === session ? this.receiving : this.serving.get(servingKey(from, session));
  }

  isLive(session: Session): boolean {
    return this.receiving === session || this.serving.get(servingKey(session.peer, session.id)) === session;
  }

  /** Whether a heal-open from `from` may proceed while this node is in its current sessions. */
  admit(from: NodeId): Admission {
    const current = this.receiving;
    if (!current) return 'receive';
    // Two nodes opening at each other at once: the smaller id's session wins, so exactly one proceeds.
    const crossedOpen = current.peer === from && current.role === 'initiator' && current.phase === 'opening';
    if (crossedOpen && from < this.self) {
      current.timer?.cancel();
      this.receiving = undefined;
      return 'receive';
    }
    if (current.peer !== from && !this.servingPeers.includes(from) && this.serving.size < this.maxServing) return 'serve';
    return 'busy';
  }

  add(session: Session): void {
    if (session.oneWay && session.role === 'responder') this.serving.set(servingKey(session.peer, session.id), session);
    else this.receiving = session;
  }

  remove(session: Session): void {
    if (this.receiving === session) this.receiving = undefined;
    else this.serving.delete(servingKey(session.peer, session.id));
  }

  clear(): void {
    this.receiving = undefined;
    this.serving.clear();
  }
}

function servingKey(peer: NodeId, session: number): string {
  return `${peer} ${session}`;
}
