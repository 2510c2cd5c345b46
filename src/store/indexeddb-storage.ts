/**
 * The browser's Storage: one IndexedDB database per node, holding the node's records (by id) and
 * its NodeState in two object stores. A commit is one readwrite transaction over both stores, so
 * the batch lands whole or not at all, and it resolves only on the transaction's `complete` event.
 *
 * Every failure — quota, abort, a value that cannot be stored, a database closed, blocked or
 * upgraded by another tab — surfaces as EngramError('storage-failed') with the browser's error as
 * `cause`; a rejected commit changed nothing.
 */
import { deleteDB, openDB } from 'idb';
import type { DBSchema, IDBPDatabase } from 'idb';
import { EngramError } from '../core/errors.js';
import type { Storage, StorageBatch } from '../core/ports.js';
import type { MemoryId, MemoryRecord, NodeId, NodeState } from '../core/types.js';
import { ROOM_PATTERN } from '../net/signaling-protocol.js';
import { isNodeId } from './node-identity.js';

/**
 * Bump when the layout changes and add a step to `upgradeSchema`; a database is upgraded step by
 * step from whatever version it was left at.
 */
export const SCHEMA_VERSION = 1;

const RECORDS = 'records';
const STATE = 'state';
/** The state store holds one value; a separate store keeps `getAll` on records free of it. */
const STATE_KEY = 'node';
const BOTH_STORES = [RECORDS, STATE] as const;

interface EngramDatabase extends DBSchema {
  records: { key: MemoryId; value: MemoryRecord };
  state: { key: string; value: NodeState };
}

/**
 * The database of one node in one room: `engram-<room>-<nodeId>`. Rooms may contain '-', node ids
 * may not, so no two (room, node) pairs share a database.
 */
export function databaseName(room: string, nodeId: NodeId): string {
  if (!ROOM_PATTERN.test(room)) {
    throw new EngramError('invalid-argument', `room "${room}" must be 1-64 letters, digits, '_' or '-'`);
  }
  if (!isNodeId(nodeId)) {
    throw new EngramError('invalid-argument', `node id "${nodeId}" must be 1-128 letters, digits, '_', '.' or ':'`);
  }
  return `engram-${room}-${nodeId}`;
}

/** Why a connection can no longer be used; each gets its own explanation for the person reading it. */
type ClosedReason = 'closed' | 'version-changed' | 'terminated';

const CLOSED_EXPLANATIONS: Record<ClosedReason, string> = {
  closed: 'the database of this tab has been closed',
  'version-changed': 'another tab upgraded or deleted the database of this tab; reload the tab to continue',
  terminated: 'the browser closed the database unexpectedly (site data cleared or a disk error); reload the tab',
};

function errorName(cause: unknown): string | undefined {
  // DOMException is an Error in browsers and Node alike, but fakes and polyfills may not be.
  return typeof cause === 'object' && cause !== null && 'name' in cause && typeof cause.name === 'string'
    ? cause.name
    : undefined;
}

/** What went wrong, in words a person can act on; the browser's own error stays in `cause`. */
function explain(cause: unknown): string {
  switch (errorName(cause)) {
    case 'QuotaExceededError':
      return "the browser's storage for this site is full; free some space or forget old memories, then try again";
    case 'DataCloneError':
      return 'the batch holds a value the browser cannot store (such as a function)';
    case 'AbortError':
      return 'the browser aborted the transaction';
    case 'VersionError':
      return 'the database was written by a newer version of Engram Mesh; reload the page to get it';
    case 'InvalidStateError':
      return 'the database connection is closed';
    default:
      return cause instanceof Error ? cause.message : String(cause);
  }
}

function storageFailed(action: string, cause: unknown, consequence = ''): EngramError {
  return new EngramError('storage-failed', `Could not ${action}: ${explain(cause)}.${consequence}`, { cause });
}

/** Said of every failed commit, because it is what the caller most needs to know. */
const NOTHING_SAVED = ' None of it was saved.';

function describeBatch(batch: StorageBatch): string {
  const parts: string[] = [];
  const recordCount = batch.records?.length ?? 0;
  if (recordCount > 0) parts.push(`${recordCount} record${recordCount === 1 ? '' : 's'}`);
  if (batch.state) parts.push('the node state');
  return parts.length > 0 ? `save ${parts.join(' and ')}` : 'save an empty batch';
}

/** Creates or migrates the stores, one schema version at a time. */
function upgradeSchema(db: IDBPDatabase<EngramDatabase>, oldVersion: number): void {
  if (oldVersion < 1) {
    db.createObjectStore(RECORDS, { keyPath: 'id' });
    db.createObjectStore(STATE);
  }
}

export class IndexedDbStorage implements Storage {
  private closedReason: ClosedReason | undefined;

  private constructor(
    readonly name: string,
    private readonly db: IDBPDatabase<EngramDatabase>,
  ) {}

  /** Opens (creating or upgrading if needed) the database `name`; see `databaseName`. */
  static async open(name: string): Promise<IndexedDbStorage> {
    // The connection's events may arrive once the instance exists; they find it here.
    const instance: { current?: IndexedDbStorage } = {};
    const blocked = blockedReport();
    let opened: IDBPDatabase<EngramDatabase> | 'blocked';
    const opening = openDB<EngramDatabase>(name, SCHEMA_VERSION, {
      upgrade: (database, oldVersion) => upgradeSchema(database, oldVersion),
      blocked: blocked.report,
      // Another tab wants to upgrade or delete: step aside at once rather than block it, and
      // make every later call on this instance explain why it fails.
      blocking: () => instance.current?.markClosed('version-changed'),
      terminated: () => instance.current?.markClosed('terminated'),
    });
    try {
      opened = await Promise.race([opening, blocked.promise]);
    } catch (cause) {
      throw storageFailed(`open database ${name}`, cause);
    }
    if (opened === 'blocked') {
      // The request stays queued; if it succeeds later, the connection must not linger.
      opening.then((late) => late.close(), () => undefined);
      throw new EngramError(
        'storage-failed',
        `Could not open database ${name}: another tab holds it open at an older version; close the other tabs of this room and reload.`,
      );
    }
    const db = opened;
    const missing = BOTH_STORES.filter((store) => !db.objectStoreNames.contains(store));
    if (missing.length > 0) {
      db.close();
      throw new EngramError(
        'storage-failed',
        `Could not open database ${name}: it lacks the ${missing.join(' and ')} store, so it was not made by Engram Mesh or is damaged.`,
      );
    }
    instance.current = new IndexedDbStorage(name, db);
    return instance.current;
  }

  async loadState(): Promise<NodeState | undefined> {
    const db = this.usable('load the node state');
    try {
      return await db.get(STATE, STATE_KEY);
    } catch (cause) {
      throw storageFailed('load the node state', cause);
    }
  }

  async loadRecords(): Promise<MemoryRecord[]> {
    const db = this.usable('load the records');
    try {
      return await db.getAll(RECORDS);
    } catch (cause) {
      throw storageFailed('load the records', cause);
    }
  }

  async getRecord(id: MemoryId): Promise<MemoryRecord | undefined> {
    const db = this.usable(`load record ${id}`);
    try {
      return await db.get(RECORDS, id);
    } catch (cause) {
      throw storageFailed(`load record ${id}`, cause);
    }
  }

  async commit(batch: StorageBatch): Promise<void> {
    const action = describeBatch(batch);
    const db = this.usable(action);
    // 'strict' asks the browser to flush to disk before `complete`: the contract promises a
    // resolved commit survives a crash, which the relaxed default does not.
    let tx;
    try {
      tx = db.transaction(BOTH_STORES, 'readwrite', { durability: 'strict' });
    } catch (cause) {
      throw storageFailed(action, cause, NOTHING_SAVED);
    }
    const writes: Promise<unknown>[] = [];
    try {
      if (batch.state) writes.push(tx.objectStore(STATE).put(batch.state, STATE_KEY));
      for (const record of batch.records ?? []) writes.push(tx.objectStore(RECORDS).put(record));
    } catch (cause) {
      // A value refused synchronously (one that cannot be cloned, a missing key) leaves the
      // writes queued before it in a live transaction, which would commit them: abort it.
      try {
        tx.abort();
      } catch {
        // Already aborted (what refused the write also ended the transaction): nothing commits.
      }
      await Promise.allSettled([tx.done, ...writes]);
      throw storageFailed(action, cause, NOTHING_SAVED);
    }
    // A failing write aborts the whole transaction and `tx.done` rejects with its error; the
    // per-write promises then carry only the abort, so they are settled here and not reported.
    for (const write of writes) write.catch(() => undefined);
    try {
      await tx.done;
    } catch (cause) {
      throw storageFailed(action, cause, NOTHING_SAVED);
    }
  }

  /** Closes the connection; later calls fail with storage-failed. Idempotent. */
  close(): void {
    this.markClosed('closed');
  }

  /**
   * Deletes the database ("forget this tab"). Other IndexedDbStorage instances on it close
   * themselves; a foreign connection that does not blocks the deletion, which is then reported
   * (the deletion still happens once that connection closes).
   */
  async destroy(): Promise<void> {
    this.close();
    const blocked = blockedReport();
    const deleting = deleteDB(this.name, { blocked: blocked.report });
    let outcome: void | 'blocked';
    try {
      outcome = await Promise.race([deleting, blocked.promise]);
    } catch (cause) {
      throw storageFailed(`delete database ${this.name}`, cause);
    }
    if (outcome === 'blocked') {
      // The request stays queued; its later outcome has no one left to tell.
      deleting.catch(() => undefined);
      throw new EngramError(
        'storage-failed',
        `Could not delete database ${this.name} yet: another tab holds it open; it will be deleted once that tab closes.`,
      );
    }
  }

  private markClosed(reason: ClosedReason): void {
    if (this.closedReason) return;
    this.closedReason = reason;
    this.db.close();
  }

  private usable(action: string): IDBPDatabase<EngramDatabase> {
    if (this.closedReason) {
      throw new EngramError('storage-failed', `Could not ${action}: ${CLOSED_EXPLANATIONS[this.closedReason]}.`);
    }
    return this.db;
  }
}

/**
 * IndexedDB reports a blocked open or delete as an event and keeps the request queued, so its
 * promise would simply not settle while another connection holds the database; racing it against
 * this turns the event into an answer.
 */
function blockedReport(): { promise: Promise<'blocked'>; report: () => void } {
  let report: () => void = () => undefined;
  const promise = new Promise<'blocked'>((resolve) => {
    report = () => resolve('blocked');
  });
  return { promise, report };
}
