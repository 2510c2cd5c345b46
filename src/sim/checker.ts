/**
 * Judges a history against the replicas after a heal, in the spirit of Jepsen's set-full:
 * nothing acknowledged may be missing anywhere (present, or superseded by a version that
 * causally includes it), a forgotten memory must not come back unless someone wrote it again
 * concurrently (then it is a conflict to review, not a silent resurrection), all replicas must
 * hold the same records, and every true conflict must be in every replica's review queue.
 *
 * It reads plain snapshots, so the same checker judges simulated nodes and real browser tabs.
 */
import { recordDigest, toHex } from '../core/digest.js';
import { conflictOf, mergeRecords, shownVersion } from '../core/merge.js';
import type { EngramNode } from '../core/node.js';
import type { Dot, MemoryId, MemoryRecord, NodeId } from '../core/types.js';
import { covers, dotKey } from '../core/vector-clock.js';
import type { History } from './history.js';

/** What the checker needs to know of one replica after the heal. */
export interface ReplicaSnapshot {
  readonly id: NodeId;
  readonly records: readonly MemoryRecord[];
  readonly merkleRoot: string;
  /** Ids in the replica's conflict review queue. */
  readonly conflictIds: readonly MemoryId[];
}

export function snapshotOf(node: EngramNode): ReplicaSnapshot {
  return {
    id: node.id,
    records: [...node.allRecords()],
    merkleRoot: node.merkleRoot(),
    conflictIds: node.conflicts().map((conflict) => conflict.id),
  };
}

export interface LostWrite {
  readonly id: MemoryId;
  readonly dot: string;
  readonly writtenOn: NodeId;
  readonly missingOn: readonly NodeId[];
}

export interface CheckReport {
  readonly acknowledged: number;
  /** Acknowledged writes missing on at least one replica. */
  readonly lostWrites: number;
  /** Acknowledged writes missing on every replica. */
  readonly lostEverywhere: number;
  readonly lost: readonly LostWrite[];
  /** Acknowledged forgets whose memory is shown alive again with no concurrent write to explain it. */
  readonly resurrected: number;
  readonly converged: boolean;
  readonly distinctRoots: number;
  /** Records whose sibling sets differ between some two replicas. */
  readonly divergentRecords: number;
  /** True conflicts in the union of all replicas. */
  readonly conflicts: number;
  /** True conflicts some replica's review queue does not list. */
  readonly conflictsNotSurfaced: number;
}

export function holds(record: MemoryRecord | undefined, dot: Dot): boolean {
  if (!record) return false;
  return record.siblings.some(
    (sibling) => (sibling.dot.node === dot.node && sibling.dot.counter === dot.counter) || covers(sibling.context, dot),
  );
}

/** The join of every replica's records: what a converged cluster must hold. */
export function unionOf(replicas: readonly { readonly records: Iterable<MemoryRecord> }[]): Map<MemoryId, MemoryRecord> {
  const union = new Map<MemoryId, MemoryRecord>();
  for (const replica of replicas) {
    for (const record of replica.records) {
      const current = union.get(record.id);
      union.set(record.id, current ? mergeRecords(current, record) : record);
    }
  }
  return union;
}

/** Σ over replicas of the records that differ from the union: the deliveries a perfect heal needs. */
export function divergenceFromUnion(nodes: readonly EngramNode[]): number {
  return divergenceOfSnapshots(nodes.map((node) => ({ records: [...node.allRecords()] })));
}

export function divergenceOfSnapshots(replicas: readonly { readonly records: readonly MemoryRecord[] }[]): number {
  const union = unionOf(replicas);
  const unionDigests = new Map<MemoryId, string>();
  for (const [id, record] of union) unionDigests.set(id, toHex(recordDigest(record)));
  let divergent = 0;
  for (const replica of replicas) {
    const own = new Map<MemoryId, string>();
    for (const record of replica.records) own.set(record.id, toHex(recordDigest(record)));
    for (const [id, digest] of unionDigests) if (own.get(id) !== digest) divergent++;
  }
  return divergent;
}

export function checkReplicas(history: History, nodes: readonly EngramNode[]): CheckReport {
  const margin = nodes[0]?.config.conflictConfidenceMargin ?? 0.1;
  return checkSnapshots(history, nodes.map(snapshotOf), margin);
}

export function checkSnapshots(history: History, replicas: readonly ReplicaSnapshot[], conflictMargin = 0.1): CheckReport {
  const acknowledged = history.acknowledged();
  const byId = replicas.map((replica) => new Map(replica.records.map((record) => [record.id, record])));
  const lost: LostWrite[] = [];
  let lostEverywhere = 0;
  for (const operation of acknowledged) {
    const id = operation.ackedId as MemoryId;
    const dot = operation.dot as Dot;
    const missingOn = replicas.filter((_, i) => !holds(byId[i]?.get(id), dot)).map((replica) => replica.id);
    if (missingOn.length > 0) {
      lost.push({ id, dot: dotKey(dot), writtenOn: operation.node, missingOn });
      if (missingOn.length === replicas.length) lostEverywhere++;
    }
  }
  const union = unionOf(replicas);
  let resurrected = 0;
  for (const operation of acknowledged) {
    if (operation.kind !== 'forget' || !operation.context) continue;
    const record = union.get(operation.ackedId as MemoryId);
    if (!record || shownVersion(record).deleted) continue;
    // Alive again. Legitimate only through a write the forget had not seen (concurrent or later);
    // if every live version is one the tombstone had seen, a forgotten memory came back.
    const seen = { ...operation.context, [(operation.dot as Dot).node]: (operation.dot as Dot).counter };
    const live = record.siblings.filter((sibling) => !sibling.deleted);
    if (live.every((sibling) => covers(seen, sibling.dot))) resurrected++;
  }
  const roots = new Set(replicas.map((replica) => replica.merkleRoot));
  let divergentRecords = 0;
  for (const [id, record] of union) {
    const digest = toHex(recordDigest(record));
    if (byId.some((own) => !own.has(id) || toHex(recordDigest(own.get(id) as MemoryRecord)) !== digest)) divergentRecords++;
  }
  let conflicts = 0;
  let conflictsNotSurfaced = 0;
  const queues = replicas.map((replica) => new Set(replica.conflictIds));
  for (const record of union.values()) {
    if (!conflictOf(record, conflictMargin)) continue;
    conflicts++;
    if (queues.some((queue) => !queue.has(record.id))) conflictsNotSurfaced++;
  }
  return {
    acknowledged: acknowledged.length,
    lostWrites: lost.length,
    lostEverywhere,
    lost: lost.slice(0, 20),
    resurrected,
    converged: roots.size <= 1 && divergentRecords === 0,
    distinctRoots: roots.size,
    divergentRecords,
    conflicts,
    conflictsNotSurfaced,
  };
}
