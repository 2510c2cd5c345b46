/**
 * The replicas this browser holds for one room: which node ids have a database here, and when a
 * tab last ran as each. Kept in localStorage (shared by every tab of the origin and kept across
 * browser restarts, unlike the sessionStorage that names a tab's own id), and reconciled with
 * `indexedDB.databases()` where the browser has it, so databases made before the registry
 * existed, or whose entry was lost, are found again instead of sitting on disk forever.
 *
 * It only records; which replica a tab takes is replica-claim.ts.
 */
import { databaseName } from './indexeddb-storage.js';
import type { NodeId } from '../core/types.js';
import { isNodeId, type SessionStore } from './node-identity.js';

/** One replica: a node id and the database holding its records. */
export interface ReplicaEntry {
  readonly nodeId: NodeId;
  readonly databaseName: string;
  /** Wall-clock ms (Date.now) when a tab last claimed or released it. */
  readonly lastUsedAt: number;
}

const registryKey = (room: string): string => `engram-mesh:replicas:${room}`;

/** The database of one node in one room: indexeddb-storage.ts's rule, the one place it is written. */
export const replicaDatabaseName = databaseName;

/** The node id of `name` if it is a database of `room` (node ids hold no '-', so the split is unique). */
export function nodeIdOfDatabase(room: string, name: string): NodeId | undefined {
  const prefix = `engram-${room}-`;
  if (!name.startsWith(prefix)) return undefined;
  const nodeId = name.slice(prefix.length);
  return isNodeId(nodeId) ? nodeId : undefined;
}

function isEntry(value: unknown): value is ReplicaEntry {
  if (typeof value !== 'object' || value === null) return false;
  const entry = value as Partial<ReplicaEntry>;
  return (
    typeof entry.nodeId === 'string' &&
    isNodeId(entry.nodeId) &&
    typeof entry.databaseName === 'string' &&
    typeof entry.lastUsedAt === 'number' &&
    Number.isFinite(entry.lastUsedAt)
  );
}

/** The entries stored for `room`; an unreadable or foreign value reads as none (it is rewritten on the next update). */
export function readRegistry(local: SessionStore | undefined, room: string): ReplicaEntry[] {
  let raw: string | null = null;
  try {
    raw = local?.getItem(registryKey(room)) ?? null;
  } catch {
    // Storage disabled: no registry, so every tab is a new replica (as before the registry).
    return [];
  }
  if (raw === null) return [];
  try {
    const parsed: unknown = JSON.parse(raw);
    return Array.isArray(parsed) ? parsed.filter(isEntry) : [];
  } catch {
    return [];
  }
}

/**
 * Read, change and write back the entries of `room`. localStorage is synchronous within a tab,
 * so no other change of this tab interleaves; two tabs updating at the same instant may lose one
 * entry's timestamp, which costs at most an early or late fold, never data (a fold is a merge).
 */
export function updateRegistry(local: SessionStore | undefined, room: string, change: (entries: ReplicaEntry[]) => ReplicaEntry[]): void {
  if (!local) return;
  const next = change(readRegistry(local, room));
  try {
    local.setItem(registryKey(room), JSON.stringify(next));
  } catch {
    // Quota or disabled storage: the databases themselves are still found by discovery.
  }
}

/** Records that a tab uses `nodeId` now (adding it if new). */
export function touchReplica(local: SessionStore | undefined, room: string, nodeId: NodeId, now: number): void {
  updateRegistry(local, room, (entries) => [
    ...entries.filter((entry) => entry.nodeId !== nodeId),
    { nodeId, databaseName: replicaDatabaseName(room, nodeId), lastUsedAt: now },
  ]);
}

export function forgetReplica(local: SessionStore | undefined, room: string, nodeId: NodeId): void {
  updateRegistry(local, room, (entries) => entries.filter((entry) => entry.nodeId !== nodeId));
}

/**
 * The registry with what is on disk: databases of the room without an entry are added (first
 * seen now, so they get a full fold horizon), and `exists` tells which entries still have a
 * database (an entry without one lost its data: adopting it would reuse dots its peers have seen).
 * Without `databaseNames` every entry is assumed to exist.
 */
export function reconcile(
  entries: readonly ReplicaEntry[],
  room: string,
  databaseNames: readonly string[] | undefined,
  now: number,
): { entries: ReplicaEntry[]; exists: (nodeId: NodeId) => boolean } {
  if (!databaseNames) return { entries: [...entries], exists: () => true };
  const onDisk = new Set<NodeId>();
  for (const name of databaseNames) {
    const nodeId = nodeIdOfDatabase(room, name);
    if (nodeId !== undefined) onDisk.add(nodeId);
  }
  const known = new Set(entries.map((entry) => entry.nodeId));
  const found = [...onDisk]
    .filter((nodeId) => !known.has(nodeId))
    .sort()
    .map((nodeId) => ({ nodeId, databaseName: replicaDatabaseName(room, nodeId), lastUsedAt: now }));
  return { entries: [...entries, ...found], exists: (nodeId) => onDisk.has(nodeId) };
}
