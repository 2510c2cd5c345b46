/**
 * The seams between the pure core and the world. The core never touches timers, the wall clock,
 * randomness, the network or storage directly; adapters implement these for the browser,
 * for Node and for the simulator.
 */
import type { MemoryId, MemoryRecord, NodeId, NodeState } from './types.js';

export interface TimerHandle {
  cancel(): void;
}

/** Time as the core sees it. The simulator implements it with virtual time. */
export interface Scheduler {
  /** Milliseconds on a monotone clock. */
  now(): number;
  /**
   * The wall clock, epoch milliseconds: what versions' hybrid timestamps (hlc.ts) start from. It
   * may be skewed or step backwards; the hybrid clock never does. Without it the core counts from
   * `now()` (fine for tests, but then timestamps are not wall-clock times).
   */
  wallNow?(): number;
  /** Calls `fn` once after `delayMs`; cancelling an already fired timer does nothing. */
  setTimer(delayMs: number, fn: () => void): TimerHandle;
}

/** Seeded randomness, so a simulator run replays exactly. */
export interface Random {
  /** A float in [0, 1). */
  next(): number;
  /** An integer in [0, maxExclusive). */
  int(maxExclusive: number): number;
}

/**
 * Datagram delivery between nodes. Contract: best effort. A message may be dropped, delayed or
 * reordered, never altered (adapters that cannot promise integrity must authenticate).
 * Sending to an unknown or unreachable peer is not an error: the message is simply lost.
 */
/**
 * How urgent a message is. 'control' (membership probes, heal steps) must not wait behind
 * 'bulk' (records): a probe stuck behind a megabyte of heal records times out, and the peer is
 * suspected of being down when it is only busy. Transports without queues may ignore it.
 */
export type Lane = 'control' | 'bulk';

export interface Transport {
  send(to: NodeId, bytes: Uint8Array, lane?: Lane): void;
  /** Registers the one handler for inbound messages. */
  onMessage(handler: (from: NodeId, bytes: Uint8Array) => void): void;
}

/** One atomic unit of durable change. */
export interface StorageBatch {
  readonly records?: readonly MemoryRecord[];
  /** Records to delete (never also in `records`): collected tombstones, obsolete records. */
  readonly removed?: readonly MemoryId[];
  readonly state?: NodeState;
}

/**
 * Durable storage for one node. Contract: `commit` is atomic (all of the batch or none of it)
 * and resolves only once the batch is durable; a rejected commit changed nothing.
 */
export interface Storage {
  loadState(): Promise<NodeState | undefined>;
  loadRecords(): Promise<MemoryRecord[]>;
  getRecord(id: MemoryId): Promise<MemoryRecord | undefined>;
  commit(batch: StorageBatch): Promise<void>;
}
