/**
 * Which replica of a room this tab runs as, so that memories outlive the tab that wrote them:
 *
 * 1. the id this tab ran as before (sessionStorage: a reload keeps its id, as node-identity.ts
 *    has always done), unless a live tab runs as it (a duplicated tab);
 * 2. else a replica of the registry (replica-registry.ts) that no live tab holds, most recently
 *    used first: a tab opened after every tab closed, after a browser restart or a crash, takes
 *    the old database back and rejoins under its id (EngramNode.open raises its incarnation);
 * 3. else a new replica, only when every known replica is held by a live tab.
 *
 * "Held" is the same Web Lock per node id as node-identity.ts (`ifAvailable`, so adopting never
 * waits); without Web Locks (a plain-http LAN page) a BroadcastChannel probe asks the live tabs,
 * and a tab that is itself probing for a replica answers for it too, so two tabs starting at the
 * same instant both pass on it rather than both take it. Without either, a tab never adopts: it
 * could not tell a live holder from a closed one.
 *
 * Replicas nobody adopted within `foldAfterMs` are folded into the running one (`foldIdle`):
 * their records go through the node's normal merge path and their database is deleted, so a
 * browser keeps about as many databases per room as it ran tabs at the same time.
 */
import { EngramError } from '../core/errors.js';
import type { MemoryRecord, NodeId } from '../core/types.js';
import {
  acquireLock,
  answerProbes,
  browserIdentityEnvironment,
  CHANNEL_NAME,
  claim,
  claimFresh,
  IDENTITY_TIMINGS,
  isMessage,
  newNodeId,
  readStoredId,
  storeId,
  type Held,
  type HeldMessage,
  type IdentityEnvironment,
  type IdentityGuard,
  type IdentityTimings,
  type ProbeMessage,
  type SessionStore,
} from './node-identity.js';
import { forgetReplica, readRegistry, reconcile, replicaDatabaseName, touchReplica, type ReplicaEntry } from './replica-registry.js';

export interface ReplicaEnvironment extends IdentityEnvironment {
  /** window.localStorage: the registry, shared by the origin's tabs and kept across restarts. */
  readonly local: SessionStore | undefined;
  /** Names of the origin's IndexedDB databases (indexedDB.databases()), where the browser has it. */
  readonly listDatabases: (() => Promise<string[]>) | undefined;
  /** Wall-clock ms (Date.now): registry timestamps must mean the same across restarts. */
  readonly now: () => number;
}

export interface ReplicaTimings extends IdentityTimings {
  /**
   * A replica no tab adopted for this long is folded into a running one. Every new tab adopts an
   * idle replica first, so one stays idle only while the browser runs fewer tabs of the room than
   * it once did; a week keeps the replicas of a usual working set of tabs (reopened within days)
   * while a one-off burst of tabs stops costing a database and a writer id within a week. Folding
   * early loses nothing (it is a merge); it only makes the next extra tab a new writer id.
   */
  readonly foldAfterMs: number;
}

export const REPLICA_TIMINGS: ReplicaTimings = {
  ...IDENTITY_TIMINGS,
  foldAfterMs: 7 * 24 * 3_600_000, // A week: see above.
};

export type ReplicaOrigin = 'restored' | 'adopted' | 'new' | 'duplicate-tab';

export interface Replica {
  readonly nodeId: NodeId;
  readonly databaseName: string;
  /** restored: this tab's own id (reload); adopted: a replica a closed tab left; new / duplicate-tab: a fresh id. */
  readonly origin: ReplicaOrigin;
  /** Whether this tab took over a replica another (closed) tab left. */
  readonly adopted: boolean;
  readonly guard: IdentityGuard;
  /** Gives the replica up (marks it used now, releases its lock, stops answering probes). Idempotent. */
  release(): void;
  /** Folds the replicas idle past `foldAfterMs` into this one; see foldIdleReplicas. */
  foldIdle(target: FoldTarget): Promise<FoldReport>;
}

/** Where folded records go and how an idle replica's database is read and deleted. */
export interface FoldTarget {
  /** Merges records into the running node (EngramNode.absorb). */
  absorb(records: readonly MemoryRecord[]): Promise<unknown>;
  openStorage(databaseName: string): Promise<{ loadRecords(): Promise<MemoryRecord[]>; destroy(): Promise<void> }>;
}

export interface FoldReport {
  readonly folded: NodeId[];
  readonly records: number;
  readonly failed: { nodeId: NodeId; error: Error }[];
}

/** Records go into the node in chunks of this many: one storage commit each, bounded in size. */
const FOLD_CHUNK_RECORDS = 1_000;

export function browserReplicaEnvironment(): ReplicaEnvironment {
  let local: SessionStore | undefined;
  try {
    local = globalThis.localStorage;
  } catch {
    // Site storage disabled: no registry (every tab a new replica, as before).
    local = undefined;
  }
  const factory = globalThis.indexedDB as (IDBFactory & { databases?: () => Promise<IDBDatabaseInfo[]> }) | undefined;
  return {
    ...browserIdentityEnvironment(),
    local,
    listDatabases:
      typeof factory?.databases === 'function'
        ? async () => (await factory.databases!()).flatMap((info) => (info.name ? [info.name] : []))
        : undefined,
    now: () => Date.now(),
  };
}

/** Decides which replica of `room` this tab runs as, and holds it until `release()`. */
export async function claimReplica(
  environment: ReplicaEnvironment,
  room: string,
  timings: ReplicaTimings = REPLICA_TIMINGS,
): Promise<Replica> {
  const stored = readStoredId(environment.session);
  // A reload whose database is gone (site data cleared, the browser dropped it) must not run as
  // the old id: the node would start at dot 0 with an empty store, and its peers still hold its
  // old versions; the id's history is elsewhere, so this tab starts a new one.
  if (stored !== undefined && !(await databaseMayExist(environment, room, stored))) {
    const fresh = newNodeId(environment.getRandomValues);
    const held = await claimFresh(fresh, environment);
    if (held) return replica(fresh, 'new', held, environment, room, timings);
  }
  if (stored !== undefined) {
    const held = await claim(stored, environment, timings);
    if (held) return replica(stored, 'restored', held, environment, room, timings);
  }
  const idle = await idleCandidates(environment, room, stored);
  const adopted = await claimIdle(idle, environment, timings);
  if (adopted) return replica(adopted.nodeId, 'adopted', adopted.held, environment, room, timings);
  const origin: ReplicaOrigin = stored === undefined ? 'new' : 'duplicate-tab';
  for (let attempt = 0; attempt < 3; attempt += 1) {
    const fresh = newNodeId(environment.getRandomValues);
    const held = await claimFresh(fresh, environment);
    if (held) return replica(fresh, origin, held, environment, room, timings);
  }
  throw new EngramError('not-started', 'Could not claim a replica for this tab: the browser refused the lock of every fresh id. Reload the tab.');
}

/** Registered replicas that still have their database, most recently used first. */
async function idleCandidates(environment: ReplicaEnvironment, room: string, exclude: NodeId | undefined): Promise<ReplicaEntry[]> {
  const { entries, exists } = await registryOnDisk(environment, room);
  return entries
    .filter((entry) => entry.nodeId !== exclude && exists(entry.nodeId))
    .sort((a, b) => b.lastUsedAt - a.lastUsedAt || (a.nodeId < b.nodeId ? -1 : 1));
}

/** False only when the browser lists its databases and `nodeId`'s database of `room` is not among them. */
async function databaseMayExist(environment: ReplicaEnvironment, room: string, nodeId: NodeId): Promise<boolean> {
  try {
    const names = await environment.listDatabases?.();
    return names === undefined || names.includes(replicaDatabaseName(room, nodeId));
  } catch {
    return true; // The listing failed: go by sessionStorage, as before.
  }
}

async function registryOnDisk(environment: ReplicaEnvironment, room: string): Promise<ReturnType<typeof reconcile>> {
  let names: string[] | undefined;
  try {
    names = await environment.listDatabases?.();
  } catch {
    // The listing failed: go by the registry alone.
    names = undefined;
  }
  return reconcile(readRegistry(environment.local, room), room, names, environment.now());
}

/**
 * The first of `candidates` no live tab holds, now held by this tab. Never waits on a lock: a
 * replica whose lock is taken is in use, or its document is going away and it is not ours to wait for.
 */
async function claimIdle(
  candidates: readonly ReplicaEntry[],
  environment: IdentityEnvironment,
  timings: IdentityTimings,
): Promise<{ nodeId: NodeId; held: Held } | undefined> {
  if (candidates.length === 0) return undefined;
  const { locks, openChannel } = environment;
  if (locks) {
    for (const candidate of candidates) {
      const held = await acquireLock(locks, candidate.nodeId, { ifAvailable: true });
      if (held) return { nodeId: candidate.nodeId, held };
    }
    return undefined;
  }
  if (!openChannel) return undefined;
  const wanted = new Set(candidates.map((candidate) => candidate.nodeId));
  const answered = new Set<NodeId>();
  const channel = openChannel(CHANNEL_NAME);
  await new Promise<void>((resolve) => {
    channel.listen((data) => {
      if (isMessage<HeldMessage>(data, 'engram-id-held') && wanted.has(data.nodeId)) answered.add(data.nodeId);
      // Another tab probing for a replica we probe for too: tell it it is taken, so that of two
      // tabs starting together at most one (usually neither) takes it. Passing costs a new id.
      if (isMessage<ProbeMessage>(data, 'engram-id-probe') && wanted.has(data.nodeId)) {
        channel.postMessage({ type: 'engram-id-held', nodeId: data.nodeId } satisfies HeldMessage);
      }
    });
    for (const nodeId of wanted) channel.postMessage({ type: 'engram-id-probe', nodeId } satisfies ProbeMessage);
    environment.setTimer(timings.probeReplyMs, resolve);
  });
  channel.close();
  const free = candidates.find((candidate) => !answered.has(candidate.nodeId));
  return free && { nodeId: free.nodeId, held: { guard: 'broadcast-channel', release: () => undefined } };
}

function replica(
  nodeId: NodeId,
  origin: ReplicaOrigin,
  held: Held,
  environment: ReplicaEnvironment,
  room: string,
  timings: ReplicaTimings,
): Replica {
  storeId(environment.session, nodeId);
  touchReplica(environment.local, room, nodeId, environment.now());
  const answering = answerProbes(nodeId, environment);
  let released = false;
  return {
    nodeId,
    databaseName: replicaDatabaseName(room, nodeId),
    origin,
    adopted: origin === 'adopted',
    guard: held.guard,
    release: () => {
      if (released) return;
      released = true;
      touchReplica(environment.local, room, nodeId, environment.now());
      answering?.close();
      held.release();
    },
    foldIdle: (target) => foldIdleReplicas(environment, room, nodeId, target, timings),
  };
}

/**
 * Folds every replica of `room` idle for `foldAfterMs` into the running replica `self`: holds
 * its lock (so no tab adopts it meanwhile), reads its records, merges them into the node, then
 * deletes its database and its entry. A replica whose records could not all be merged keeps its
 * database (nothing is deleted that was not absorbed) and is reported in `failed`.
 */
export async function foldIdleReplicas(
  environment: ReplicaEnvironment,
  room: string,
  self: NodeId,
  target: FoldTarget,
  timings: ReplicaTimings = REPLICA_TIMINGS,
): Promise<FoldReport> {
  const { entries, exists } = await registryOnDisk(environment, room);
  const cutoff = environment.now() - timings.foldAfterMs;
  const report: { -readonly [K in keyof FoldReport]: FoldReport[K] } = { folded: [], records: 0, failed: [] };
  for (const entry of entries) {
    if (entry.nodeId === self || entry.lastUsedAt > cutoff) continue;
    const claimed = await claimIdle([entry], environment, timings);
    if (!claimed) continue;
    // While folding it, answer for it: a tab without Web Locks must not adopt it half-folded.
    const answering = environment.locks ? undefined : answerProbes(entry.nodeId, environment);
    try {
      if (exists(entry.nodeId)) {
        const storage = await target.openStorage(entry.databaseName);
        const records = await storage.loadRecords();
        for (let start = 0; start < records.length; start += FOLD_CHUNK_RECORDS) {
          await target.absorb(records.slice(start, start + FOLD_CHUNK_RECORDS));
        }
        await storage.destroy();
        report.records += records.length;
      }
      forgetReplica(environment.local, room, entry.nodeId);
      report.folded.push(entry.nodeId);
    } catch (error) {
      report.failed.push({ nodeId: entry.nodeId, error: error instanceof Error ? error : new Error(String(error)) });
    } finally {
      answering?.close();
      claimed.held.release();
    }
  }
  return report;
}
