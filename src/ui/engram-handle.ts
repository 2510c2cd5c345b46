/**
 * The one seam between the UI and a running node: everything the components show or do goes
 * through this interface, so the same components render a live tab (src/app) or a fake cluster
 * (fake-handle.ts) for the preview and DOM tests.
 */
import type { Member, Visibility, NodeId, MemoryId, Dot } from '../core/types.js';
import type { RecallResult } from '../core/node.js';
import type { Conflict } from '../core/merge.js';
import type { HealProgress, HealReport } from '../core/heal.js';

export type LinkState = 'connecting' | 'authenticating' | 'open' | 'failed' | 'closed';

/** One data-channel link from this node to a peer, as the transport sees it. */
export interface LinkInfo {
  readonly peer: NodeId;
  readonly state: LinkState;
  readonly bytesIn: number;
  readonly bytesOut: number;
  /** Connections made to this peer after the first one (a failed connection is replaced). */
  readonly reconnects?: number;
  /** Why the last connection to this peer ended, when it ended on an error. */
  readonly lastError?: string;
  /**
   * The kind of that error: 'wrong-secret' (the peer holds another room secret, or none),
   * 'auth-failed' (the handshake broke otherwise), 'network' (did not open in time, went
   * silent, channel failed), 'no-webrtc', 'handler-threw'.
   */
  readonly lastErrorCode?: LinkErrorCode;
}

/** Whether this tab's memories are safely on disk. */
export interface StorageStatus {
  readonly state: 'ok' | 'full' | 'lost' | 'failed';
  /** navigator.storage.persisted(): true when the browser will not evict the data under pressure. */
  readonly persisted: boolean | undefined;
  readonly usageBytes?: number;
  readonly quotaBytes?: number;
  readonly message?: string;
}

/**
 * A failure nothing awaited, so no caller saw it: a background storage commit or compaction, a
 * peer's message that could not be decoded, an idle replica that could not be folded in.
 * Repeats of the same problem are counted, not listed again.
 */
export interface BackgroundProblem {
  readonly source: 'storage' | 'peer-message' | 'replica-fold' | 'node';
  /** The error's code (an EngramError or DecodeError code), when it has one. */
  readonly code?: string;
  readonly message: string;
  /** The peer whose message it was, for 'peer-message'. */
  readonly peer?: NodeId;
  /** How many times it happened. */
  readonly count: number;
  /** When it last happened, on the handle's clock (`now()`). */
  readonly lastAt: number;
}

/** The signaling connection, with the server's reason when it refused this tab. */
export interface SignalingStatus {
  readonly state: 'connected' | 'connecting' | 'refused' | 'unreachable';
  /** e.g. 'origin-not-allowed', 'server-full', 'peer-id-taken'. */
  readonly code?: string;
  readonly message?: string;
}

export type LinkErrorCode = 'wrong-secret' | 'auth-failed' | 'network' | 'no-webrtc' | 'handler-threw';

export type EngramEventKind =
  | 'membership'
  | 'visibility'
  | 'conflict'
  | 'write'
  | 'link'
  | 'heal-progress'
  | 'heal'
  | 'signaling'
  | 'storage'
  | 'problem';

/** A hint that something changed; the UI re-reads what it shows rather than trusting `detail`. */
export interface EngramEvent {
  readonly kind: EngramEventKind;
  readonly detail?: unknown;
}

export interface HealStatus {
  /** The session this node receives in. */
  readonly active: HealProgress | undefined;
  /** One-way sessions in which this node sends what other nodes lack, alongside its own. */
  readonly serving: readonly HealProgress[];
  readonly last: HealReport | undefined;
}

export interface EngramHandle {
  readonly id: NodeId;
  readonly room: string;
  /**
   * Whether the page is a secure context (https or localhost). Over plain http from another
   * address it is not: the page still works (peer authentication falls back to pure JS), but
   * its code can be altered in transit, so a room secret protects less. Absent: unknown.
   */
  readonly secureContext?: boolean;
  remember(input: { content: string; tags?: string[]; confidence?: number; id?: MemoryId }): Promise<{ id: MemoryId }>;
  recall(query: { text?: string; tags?: string[]; limit?: number }): Promise<RecallResult>;
  forget(id: MemoryId): Promise<void>;
  members(): Member[];
  /** {visible, total, ratio, penalty, generation} */
  visibility(): Visibility;
  conflicts(): Promise<Conflict[]>;
  resolve(id: MemoryId, choice: { keep: Dot | string } | { content: string }): Promise<void>;
  links(): LinkInfo[];
  merkleRoot(): Promise<string>;
  /** Subscribe to any change worth re-rendering (membership, visibility, conflict, write, link, heal). Returns unsubscribe. */
  subscribe(listener: (event: EngramEvent) => void): () => void;
  /** Last heal progress / report, for the progress bar. */
  healStatus(): HealStatus;
  signalingConnected(): boolean;
  /**
   * Where this tab stands with the signaling server, and why when it is not in its room:
   * 'refused' carries the server's reason code ('origin-not-allowed', 'server-full',
   * 'too-many-connections', 'too-many-rooms', 'room-full', 'peer-id-taken', 'duplicate-peer',
   * 'peer-id-replaced') and a sentence to show; 'unreachable' a sentence. Changes are announced
   * as 'signaling' events. Optional: a handle without it only says connected or not.
   */
  signalingStatus?(): SignalingStatus;
  /**
   * The node's scheduler clock (ms), on which Member.lastHeardAt and stateChangedAt are measured.
   * Optional: without it the UI assumes the browser scheduler's clock, performance.now().
   */
  now?(): number;
  /** Optional: the storage adapter's health; without it the UI says nothing about storage. */
  storageStatus?(): StorageStatus;
  /** Optional: recent background failures, oldest first; changes are announced as 'problem' events. */
  problems?(): readonly BackgroundProblem[];
}
