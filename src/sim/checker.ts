/**
 * Judges a history against the replicas after a heal: nothing acknowledged may be missing
 * anywhere (present, or superseded by a version that causally includes it), all replicas must
 * hold the same records, and every true conflict must be in every replica's review queue.
 */
import { recordDigest, toHex } from '../core/digest.js';
import { conflictOf, mergeRecords } from '../core/merge.js';
import type { EngramNode } from '../core/node.js';
import type { MemoryId, MemoryRecord, NodeId } from '../core/types.js';
import { covers, dotKey } from '../core/vector-clock.js';
import type { History } from './history.js';

export interface LostWrite {
  readonly id: MemoryId;
  readonly dot: string;
  readonly writtenOn: NodeId;
  readonly missingOn: readonly NodeId[];
}

export interface CheckReport {
  readonly acknowledged: number;
  /** Acknowledged writes missing on at least one live replica. */
  readonly lostWrites: number;
  /** Acknowledged writes missing on every live replica. */
  readonly lostEverywhere: number;
  readonly lost: readonly LostWrite[];
  readonly converged: boolean;
  readonly distinctRoots: number;
  /** Records whose sibling sets differ between some two replicas. */
  readonly divergentRecords: number;
  /** True conflicts in the union of all replicas. */
  readonly conflicts: number;
  /** True conflicts some replica's review queue does not list. */
  readonly conflictsNotSurfaced: number;
}

export function holds(record: MemoryRecord | undefined, dot: { node: NodeId; counter: number }): boolean {
  if (!record) return false;
  return record.siblings.some(
    (sibling) => (sibling.dot.node === dot.node && sibling.dot.counter === dot.counter) || covers(sibling.context, dot),
  );
}

/** The join of every replica's records: what a converged cluster must hold. */
export function unionOf(replicas: readonly EngramNode[]): Map<MemoryId, MemoryRecord> {
  const union = new Map<MemoryId, MemoryRecord>();
  for (const node of replicas) {
    for (const record of node.allRecords()) {
      const current = union.get(record.id);
      union.set(record.id, current ? mergeRecords(current, record) : record);
    }
  }
  return union;
}

/** Σ over replicas of the records that differ from the union: the deliveries a perfect heal needs. */
export function divergenceFromUnion(replicas: readonly EngramNode[], union = unionOf(replicas)): number {
  const unionDigests = new Map<MemoryId, string>();
  for (const [id, record] of union) unionDigests.set(id, toHex(recordDigest(record)));
  let divergent = 0;
  for (const node of replicas) {
    const own = new Map<MemoryId, string>();
    for (const record of node.allRecords()) own.set(record.id, toHex(recordDigest(record)));
    for (const [id, digest] of unionDigests) if (own.get(id) !== digest) divergent++;
  }
  return divergent;
}

export function checkReplicas(history: History, replicas: readonly EngramNode[]): CheckReport {
  const acknowledged = history.acknowledged();
  const lost: LostWrite[] = [];
  let lostEverywhere = 0;
  const records = replicas.map((node) => new Map([...node.allRecords()].map((record) => [record.id, record])));
  for (const operation of acknowledged) {
    const id = operation.ackedId as MemoryId;
    const dot = operation.dot as { node: NodeId; counter: number };
    const missingOn = replicas.filter((_, i) => !holds(records[i]?.get(id), dot)).map((node) => node.id);
    if (missingOn.length > 0) {
      lost.push({ id, dot: dotKey(dot), writtenOn: operation.node, missingOn });
      if (missingOn.length === replicas.length) lostEverywhere++;
    }
  }
  const union = unionOf(replicas);
  const roots = new Set(replicas.map((node) => node.merkleRoot()));
  let divergentRecords = 0;
  for (const [id, record] of union) {
    const digest = toHex(recordDigest(record));
    if (records.some((own) => !own.has(id) || toHex(recordDigest(own.get(id) as MemoryRecord)) !== digest)) divergentRecords++;
  }
  let conflicts = 0;
  let conflictsNotSurfaced = 0;
  const queues = replicas.map((node) => new Set(node.conflicts().map((conflict) => conflict.id)));
  const margin = replicas[0]?.config.conflictConfidenceMargin ?? 0.1;
  for (const record of union.values()) {
    if (!conflictOf(record, margin)) continue;
    conflicts++;
    if (queues.some((queue) => !queue.has(record.id))) conflictsNotSurfaced++;
  }
  return {
    acknowledged: acknowledged.length,
    lostWrites: lost.length,
    lostEverywhere,
    lost: lost.slice(0, 20),
    converged: roots.size <= 1 && divergentRecords === 0,
    distinctRoots: roots.size,
    divergentRecords,
    conflicts,
    conflictsNotSurfaced,
  };
}
