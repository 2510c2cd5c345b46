/**
 * The browser's Storage: one IndexedDB database per node, holding the node's NodeState and its
 * records. A commit is one readwrite transaction, so the batch lands whole or not at all, and it
 * resolves only on the transaction's `complete` event.
 *
 * Records are kept as a log of segments: a commit's records are ONE value (an array) appended to
 * the `segments` store, and a later segment's record replaces an earlier one of the same id.
 * Why not one row per record: Chromium spends ~80 µs per put (clone, IPC, LevelDB) whatever
 * the size, so a 1,024-record commit took ~85 ms; as one array value it takes ~6 ms (measured
 * here, one idle tab). Heals and bursts of writes commit hundreds of records at a time, and the
 * per-row cost was most of a 10K-update heal. Compaction rewrites the log as a few large
 * segments holding only the latest record per id once it has grown to about twice that, so
 * space and load time stay proportional to the records held.
 *
 * Databases of schema 1 kept one row per record in `records`; those rows are read as the oldest
 * segment, and the first compaction moves them into segments.
 *
 * Every failure surfaces as an EngramError with the browser's error as `cause`, and a rejected
 * commit changed nothing: a full quota as 'storage-full', a database that vanished under the tab
 * (deleted by another tab, site data cleared, the browser dropping the connection) as
 * 'storage-lost', anything else (abort, a value that cannot be stored, a database closed,
 * blocked or upgraded by another tab) as 'storage-failed'. With a StorageHealth
 * (storage-health.ts) the same is reported there, for the page to show.
 */
import { deleteDB, openDB } from 'idb';
import type { DBSchema, IDBPDatabase } from 'idb';
import { EngramError } from '../core/errors.js';
import type { Storage, StorageBatch } from '../core/ports.js';
import type { MemoryId, MemoryRecord, NodeId, NodeState } from '../core/types.js';
import { ROOM_PATTERN } from '../net/signaling-protocol.js';
import { isNodeId } from './node-identity.js';
import type { StorageHealth } from './storage-health.js';

/**
 * Bump when the layout changes and add a step to `upgradeSchema`; a database is upgraded step by
 * step from whatever version it was left at.
 */
export const SCHEMA_VERSION = 2;

/** Schema 1's one row per record; read, then emptied by the first compaction. */
const RECORDS = 'records';
const SEGMENTS = 'segments';
const STATE = 'state';
/** The state store holds one value; a separate store keeps `getAll` on records free of it. */
const STATE_KEY = 'node';
const ALL_STORES = [RECORDS, SEGMENTS, STATE] as const;
const COMMIT_STORES = [SEGMENTS, STATE] as const;

/** Compaction writes the latest records in segments of this many (values of ~0.5 MB). */
const COMPACTED_SEGMENT_RECORDS = 4_096;
/** Compact once the log holds this many segments, whatever their size (each is a row to read at load). */
const COMPACT_AT_SEGMENTS = 1_024;
/** ... or this many records beyond twice the distinct ids it holds. */
const COMPACT_SLACK_RECORDS = 2_048;

interface Segment {
  readonly records: readonly MemoryRecord[];
  /** Ids deleted by this commit (collected tombstones: core/frontier.ts); absent in older logs. */
  readonly removed?: readonly MemoryId[];
}

interface EngramDatabase extends DBSchema {
  records: { key: MemoryId; value: MemoryRecord };
  segments: { key: number; value: Segment };
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
type ClosedReason = 'closed' | 'version-changed' | 'deleted' | 'terminated';

const CLOSED_EXPLANATIONS: Record<ClosedReason, string> = {
  closed: 'the database of this tab has been closed',
  'version-changed': 'another tab upgraded or deleted the database of this tab; reload the tab to continue',
  deleted: 'another tab deleted the database of this tab',
  terminated: 'the browser closed the database unexpectedly: site data cleared or a disk error',
};

/** Reasons that mean the database is gone, not merely closed: they surface as storage-lost. */
const LOST_REASONS: ReadonlySet<ClosedReason> = new Set(['deleted', 'terminated']);

/** Errors of a transaction on a database that was deleted or closed under it. */
const LOST_ERROR_NAMES: ReadonlySet<string> = new Set(['InvalidStateError', 'NotFoundError']);

function errorName(cause: unknown): string | undefined {
  // DOMException is an Error in browsers and Node alike, but fakes and polyfills may not be.
  return typeof cause === 'object' && cause !== null && 'name' in cause && typeof cause.name === 'string'
    ? cause.name
    : undefined;
}

/** What went wrong, in words a person can act on; the browser's own error stays in `cause`. */
/**
 * A disk that filled up before the site's quota did: Chromium 150 then fails the commit with an
 * UnknownError whose message names LevelDB's FILE_ERROR_NO_SPACE (measured on a 48 MB tmpfs
 * profile), not with QuotaExceededError. For the person it is the same: storage is full.
 */
function diskFull(cause: unknown): boolean {
  const message = typeof cause === 'object' && cause !== null && 'message' in cause && typeof cause.message === 'string' ? cause.message : '';
  return /FILE_ERROR_NO_SPACE|No space left on device/i.test(message);
}

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
  const removedCount = batch.removed?.length ?? 0;
  if (removedCount > 0) parts.push(`the deletion of ${removedCount} record${removedCount === 1 ? '' : 's'}`);
  if (batch.state) parts.push('the node state');
  return parts.length > 0 ? `save ${parts.join(' and ')}` : 'save an empty batch';
}

/** Creates or migrates the stores, one schema version at a time. */
function upgradeSchema(db: IDBPDatabase<EngramDatabase>, oldVersion: number): void {
  if (oldVersion < 1) {
    db.createObjectStore(RECORDS, { keyPath: 'id' });
    db.createObjectStore(STATE);
  }
  if (oldVersion < 2) {
    // Keys are assigned when a put executes, so the log's order is the commit order even for
    // commits queued behind a compaction.
    db.createObjectStore(SEGMENTS, { autoIncrement: true });
  }
}

/** "a", "a and b", "a, b and c". */
function listOf(words: readonly string[]): string {
  return words.length <= 1 ? words.join('') : `${words.slice(0, -1).join(', ')} and ${words[words.length - 1]}`;
}

/** The latest record per id over schema-1 rows, then segments in log order. */
function latestRecords(legacy: readonly MemoryRecord[], segments: readonly Segment[]): Map<MemoryId, MemoryRecord> {
  const latest = new Map<MemoryId, MemoryRecord>();
  for (const record of legacy) latest.set(record.id, record);
  for (const segment of segments) {
    for (const record of segment.records) latest.set(record.id, record);
    for (const id of segment.removed ?? []) latest.delete(id);
  }
  return latest;
}

/** What the log holds, to tell when it is worth compacting; unknown until the records were loaded once. */
interface LogSize {
  segments: number;
  records: number;
  readonly ids: Set<MemoryId>;
}

export class IndexedDbStorage implements Storage {
  private closedReason: ClosedReason | undefined;
  private log: LogSize | undefined;
  private compacting: Promise<void> | undefined;
  /** Compactions completed, for tests and diagnostics. */
  compactions = 0;
  /** Why the last compaction failed, if it did (the log is then left as it was, and retried later). */
  lastCompactionError: EngramError | undefined;

  private constructor(
    readonly name: string,
    private readonly db: IDBPDatabase<EngramDatabase>,
    private readonly health: StorageHealth | undefined,
  ) {}

  /**
   * Opens (creating or upgrading if needed) the database `name`; see `databaseName`. With
   * `health`, a full store is told apart (storage-full with usage and quota) and a vanished
   * database is reported (storage-lost) there as well as to the caller.
   */
  static async open(name: string, options: { health?: StorageHealth } = {}): Promise<IndexedDbStorage> {
    // The connection's events may arrive once the instance exists; they find it here.
    const instance: { current?: IndexedDbStorage } = {};
    const blocked = blockedReport();
    let opened: IDBPDatabase<EngramDatabase> | 'blocked';
    const opening = openDB<EngramDatabase>(name, SCHEMA_VERSION, {
      upgrade: (database, oldVersion) => upgradeSchema(database, oldVersion),
      blocked: blocked.report,
      // Another tab wants to upgrade or delete: step aside at once rather than block it, and
      // make every later call on this instance explain why it fails.
      blocking: (_current, blockedVersion) => instance.current?.markClosed(blockedVersion === null ? 'deleted' : 'version-changed'),
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
    const missing = ALL_STORES.filter((store) => !db.objectStoreNames.contains(store));
    if (missing.length > 0) {
      db.close();
      throw new EngramError(
        'storage-failed',
        `Could not open database ${name}: it lacks the ${listOf(missing)} store${missing.length > 1 ? 's' : ''}, so it was not made by Engram Mesh or is damaged.`,
      );
    }
    instance.current = new IndexedDbStorage(name, db, options.health);
    // The blocking/terminated callbacks are set on the connection; a 'close' also fires when
    // the browser drops it (site data cleared), which idb reports as `terminated`.
    return instance.current;
  }

  async loadState(): Promise<NodeState | undefined> {
    const db = this.usable('load the node state');
    try {
      return await db.get(STATE, STATE_KEY);
    } catch (cause) {
      throw this.failure('load the node state', cause);
    }
  }

  async loadRecords(): Promise<MemoryRecord[]> {
    const latest = await this.readLog('load the records');
    return [...latest.values()];
  }

  /** Reads the whole log: for tools and tests (the node loads everything once, at open). */
  async getRecord(id: MemoryId): Promise<MemoryRecord | undefined> {
    return (await this.readLog(`load record ${id}`)).get(id);
  }

  private async readLog(action: string): Promise<Map<MemoryId, MemoryRecord>> {
    const db = this.usable(action);
    try {
      const tx = db.transaction([RECORDS, SEGMENTS], 'readonly');
      const [legacy, segments] = await Promise.all([tx.objectStore(RECORDS).getAll(), tx.objectStore(SEGMENTS).getAll()]);
      const latest = latestRecords(legacy, segments);
      this.log = {
        segments: segments.length + (legacy.length > 0 ? 1 : 0),
        records: legacy.length + segments.reduce((sum, segment) => sum + segment.records.length + (segment.removed?.length ?? 0), 0),
        ids: new Set(latest.keys()),
      };
      return latest;
    } catch (cause) {
      throw this.failure(action, cause);
    }
  }

  async commit(batch: StorageBatch): Promise<void> {
    const action = describeBatch(batch);
    const db = this.usable(action);
    await this.health?.admit(batch);
    // 'strict' asks the browser to flush to disk before `complete`: the contract promises a
    // resolved commit survives a crash, which the relaxed default does not.
    let tx;
    try {
      tx = db.transaction(COMMIT_STORES, 'readwrite', { durability: 'strict' });
    } catch (cause) {
      throw this.failure(action, cause, NOTHING_SAVED);
    }
    const records = batch.records ?? [];
    const removed = batch.removed ?? [];
    const writes: Promise<unknown>[] = [];
    try {
      if (batch.state) writes.push(tx.objectStore(STATE).put(batch.state, STATE_KEY));
      if (records.length > 0 || removed.length > 0) {
        writes.push(tx.objectStore(SEGMENTS).put(removed.length > 0 ? { records, removed } : { records }));
      }
    } catch (cause) {
      // A value refused synchronously (one that cannot be cloned, a missing key) leaves the
      // writes queued before it in a live transaction, which would commit them: abort it.
      try {
        tx.abort();
      } catch {
        // Already aborted (what refused the write also ended the transaction): nothing commits.
      }
      await Promise.allSettled([tx.done, ...writes]);
      throw this.failure(action, cause, NOTHING_SAVED);
    }
    // A failing write aborts the whole transaction and `tx.done` rejects with its error; the
    // per-write promises then carry only the abort, so they are settled here and not reported.
    for (const write of writes) write.catch(() => undefined);
    try {
      await tx.done;
    } catch (cause) {
      throw this.failure(action, cause, NOTHING_SAVED);
    }
    this.health?.committed();
    if (this.log && (records.length > 0 || removed.length > 0)) {
      this.log.segments += 1;
      // A deletion marker is an entry the log carries until compaction, like a superseded record.
      this.log.records += records.length + removed.length;
      for (const record of records) this.log.ids.add(record.id);
      for (const id of removed) this.log.ids.delete(id);
      if (this.log.segments >= COMPACT_AT_SEGMENTS || this.log.records >= 2 * this.log.ids.size + COMPACT_SLACK_RECORDS) {
        // Not awaited: the commit is durable already, and compaction only rewrites what is there.
        void this.compact();
      }
    }
  }

  /**
   * Rewrites the log as the latest record per id, in one transaction: it reads every segment (and
   * any schema-1 rows), appends the latest records as new segments and deletes what it read.
   * Commits made meanwhile queue behind it and land after it, so none is lost or undone. A
   * failure changes nothing; it is kept in `lastCompactionError` and the next trigger retries.
   */
  compact(): Promise<void> {
    this.compacting ??= this.runCompaction().finally(() => {
      this.compacting = undefined;
    });
    return this.compacting;
  }

  private async runCompaction(): Promise<void> {
    let db: IDBPDatabase<EngramDatabase>;
    try {
      db = this.usable('compact the record log');
    } catch (error) {
      this.lastCompactionError = error as EngramError;
      this.health?.reportBackground(this.lastCompactionError);
      return;
    }
    try {
      const tx = db.transaction([RECORDS, SEGMENTS], 'readwrite', { durability: 'strict' });
      const segments = tx.objectStore(SEGMENTS);
      const [legacy, oldKeys, oldSegments] = await Promise.all([tx.objectStore(RECORDS).getAll(), segments.getAllKeys(), segments.getAll()]);
      const latest = [...latestRecords(legacy, oldSegments).values()];
      const lastOldKey = oldKeys[oldKeys.length - 1];
      const writes: Promise<unknown>[] = [];
      for (let start = 0; start < latest.length; start += COMPACTED_SEGMENT_RECORDS) {
        writes.push(segments.put({ records: latest.slice(start, start + COMPACTED_SEGMENT_RECORDS) }));
      }
      if (lastOldKey !== undefined) writes.push(segments.delete(IDBKeyRange.upperBound(lastOldKey)));
      if (legacy.length > 0) writes.push(tx.objectStore(RECORDS).clear());
      for (const write of writes) write.catch(() => undefined);
      await tx.done;
      this.log = {
        segments: Math.ceil(latest.length / COMPACTED_SEGMENT_RECORDS),
        records: latest.length,
        ids: new Set(latest.map((record) => record.id)),
      };
      this.compactions += 1;
      this.lastCompactionError = undefined;
    } catch (cause) {
      this.lastCompactionError = this.failure('compact the record log', cause, ' The log was left as it was.', false);
      this.health?.reportBackground(this.lastCompactionError);
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
      // 'blocked' also comes from this tab's own connections: one whose close waits for a
      // transaction still running (a commit, a compaction) counts as open until it ends. Seen in
      // Chromium, not in fake-indexeddb. Those end within moments; a foreign tab's does not.
      let grace: ReturnType<typeof setTimeout> | undefined;
      const settled = await Promise.race([
        deleting.then(
          () => 'deleted' as const,
          () => 'failed' as const,
        ),
        new Promise<'waiting'>((resolve) => (grace = setTimeout(() => resolve('waiting'), OWN_CLOSE_GRACE_MS))),
      ]);
      clearTimeout(grace);
      if (settled === 'deleted') return;
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
    if (LOST_REASONS.has(reason)) this.health?.lost(CLOSED_EXPLANATIONS[reason]);
    else if (reason === 'version-changed') this.health?.failed(new EngramError('storage-failed', `This tab can no longer save: ${CLOSED_EXPLANATIONS[reason]}.`));
  }

  private usable(action: string): IDBPDatabase<EngramDatabase> {
    if (this.closedReason && LOST_REASONS.has(this.closedReason)) {
      const explanation = CLOSED_EXPLANATIONS[this.closedReason];
      throw this.health?.lost(explanation) ?? new EngramError('storage-lost', `Could not ${action}: ${explanation}; reload the tab.`);
    }
    if (this.closedReason) {
      throw new EngramError('storage-failed', `Could not ${action}: ${CLOSED_EXPLANATIONS[this.closedReason]}.`);
    }
    return this.db;
  }

  /**
   * The error to throw for a failed call, by what the browser said: quota → storage-full (with
   * usage and quota where known), a database deleted or closed under the call → storage-lost,
   * anything else storage-failed. Each is also reported to the health monitor, if any.
   */
  private failure(action: string, cause: unknown, consequence = '', reportFailed = true): EngramError {
    const name = errorName(cause);
    if (name === 'QuotaExceededError' || diskFull(cause)) {
      return this.health?.full(cause) ?? new EngramError('storage-full', `Could not ${action}: ${explain(cause)}.${consequence}`, { cause });
    }
    if (name !== undefined && LOST_ERROR_NAMES.has(name) && this.closedReason !== 'closed') {
      const explanation = 'the browser no longer has it: site data cleared or deleted by another tab';
      return this.health?.lost(explanation, cause) ?? new EngramError('storage-lost', `Could not ${action}: ${explanation}; reload the tab.`, { cause });
    }
    const error = storageFailed(action, cause, consequence);
    if (reportFailed) this.health?.failed(error);
    return error;
  }
}

/**
 * IndexedDB reports a blocked open or delete as an event and keeps the request queued, so its
 * promise would simply not settle while another connection holds the database; racing it against
 * this turns the event into an answer.
 */
/** How long destroy() lets this tab's own closing connections finish before blaming another tab. */
const OWN_CLOSE_GRACE_MS = 1_000;

function blockedReport(): { promise: Promise<'blocked'>; report: () => void } {
  let report: () => void = () => undefined;
  const promise = new Promise<'blocked'>((resolve) => {
    report = () => resolve('blocked');
  });
  return { promise, report };
}
