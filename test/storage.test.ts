import 'fake-indexeddb/auto';
import fc from 'fast-check';
import { deleteDB, openDB } from 'idb';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { EngramError } from '../src/core/errors.js';
import type { MemoryRecord } from '../src/core/types.js';
import { IndexedDbStorage, SCHEMA_VERSION, databaseName } from '../src/store/indexeddb-storage.js';
import { MemoryStorage } from '../src/store/memory-storage.js';
import { indexedDbFixture, withUnstorableRecord } from './indexeddb-fixture.js';
import { nodeState, record, runStorageContract, version } from './storage-contract.js';

let databaseCount = 0;
const freshName = (): string => `engram-test-${(databaseCount += 1)}`;

runStorageContract('MemoryStorage', async () => {
  const storage = new MemoryStorage();
  return {
    storage,
    // The simulator restarts a node on the same MemoryStorage, after a crash.
    reopen: async () => {
      storage.crash();
      return storage;
    },
    breakCommits: () => {
      storage.failCommits = new EngramError('storage-failed', 'Could not save: the disk is full (injected).');
    },
    dispose: async () => undefined,
  };
});

runStorageContract('IndexedDbStorage (fake-indexeddb)', () => indexedDbFixture(freshName()));

/** The rejection of `promise`, or a failure if it resolved. */
async function rejectionOf(promise: Promise<unknown>): Promise<EngramError> {
  const outcome = await promise.then(
    () => 'resolved',
    (error: unknown) => error,
  );
  if (!(outcome instanceof EngramError)) throw new Error(`expected an EngramError, got ${String(outcome)}`);
  return outcome;
}

async function withDatabase(body: (storage: IndexedDbStorage) => Promise<void>): Promise<void> {
  const storage = await IndexedDbStorage.open(freshName());
  try {
    await body(storage);
  } finally {
    storage.close();
    await deleteDB(storage.name);
  }
}

/** fake-indexeddb's internal abort, which sets `transaction.error` as a browser does when it gives up on a write. */
interface AbortableWithReason {
  _abort(errorName: string): void;
}

const realPut = IDBObjectStore.prototype.put;

/**
 * The browser gives up on a transaction just after its write number `writeNumber` was queued
 * (counting from 1 across the whole test), the way a quota or I/O failure shows up: the
 * transaction aborts before `complete`.
 */
function abortTransactionAtWrite(writeNumber: number, abort: (transaction: IDBTransaction) => void): void {
  let writes = 0;
  vi.spyOn(IDBObjectStore.prototype, 'put').mockImplementation(function (
    this: IDBObjectStore,
    ...args: [unknown, IDBValidKey?]
  ) {
    writes += 1;
    const request = realPut.apply(this, args);
    if (writes === writeNumber) {
      const transaction = this.transaction;
      queueMicrotask(() => abort(transaction));
    }
    return request;
  });
}

describe('IndexedDbStorage', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('a batch that hits the storage quota halfway lands nothing and says the storage is full', () =>
    withDatabase(async (storage) => {
      await storage.commit({ records: [record('m1')], state: nodeState(1) });
      // The state is written, then the transaction aborts after the records' segment.
      abortTransactionAtWrite(2, (transaction) =>
        (transaction as unknown as AbortableWithReason)._abort('QuotaExceededError'),
      );
      const error = await rejectionOf(
        storage.commit({ state: nodeState(2), records: [record('m2'), record('m3'), record('m4')] }),
      );
      vi.restoreAllMocks();
      expect(error.code).toBe('storage-full');
      expect(error.message).toMatch(/storage for this site is full/);
      expect(error.message).toMatch(/None of it was saved/);
      expect((error.cause as Error).name).toBe('QuotaExceededError');
      expect(await storage.loadState()).toEqual(nodeState(1));
      expect(await storage.loadRecords()).toEqual([record('m1')]);
    }));

  it('a transaction the browser aborts lands nothing and surfaces as storage-failed', () =>
    withDatabase(async (storage) => {
      abortTransactionAtWrite(2, (transaction) => transaction.abort());
      const error = await rejectionOf(storage.commit({ state: nodeState(1), records: [record('m1'), record('m2')] }));
      vi.restoreAllMocks();
      expect(error.code).toBe('storage-failed');
      expect((error.cause as Error).name).toBe('AbortError');
      expect(await storage.loadState()).toBeUndefined();
      expect(await storage.loadRecords()).toEqual([]);
    }));

  it('a value that cannot be cloned names the cause and is not half-written', () =>
    withDatabase(async (storage) => {
      const error = await rejectionOf(storage.commit(withUnstorableRecord({ records: [record('m1'), record('m2')] })));
      expect(error.code).toBe('storage-failed');
      expect(error.message).toMatch(/cannot store/);
      expect((error.cause as Error).name).toBe('DataCloneError');
      expect(await storage.loadRecords()).toEqual([]);
    }));

  it('after close every call fails with storage-failed instead of a raw DOMException', () =>
    withDatabase(async (storage) => {
      await storage.commit({ records: [record('m1')] });
      storage.close();
      for (const call of [
        () => storage.commit({ records: [record('m2')] }),
        () => storage.loadRecords(),
        () => storage.loadState(),
        () => storage.getRecord('m1'),
      ]) {
        const error = await rejectionOf(call());
        expect(error.code).toBe('storage-failed');
        expect(error.message).toMatch(/closed/);
      }
    }));

  it('when another tab upgrades the database, this instance steps aside and later calls ask for a reload', () =>
    withDatabase(async (storage) => {
      await storage.commit({ records: [record('m1')] });
      // Would never resolve if the instance did not close itself on versionchange.
      const upgraded = await openDB(storage.name, SCHEMA_VERSION + 1);
      expect(upgraded.version).toBe(SCHEMA_VERSION + 1);
      upgraded.close();
      const error = await rejectionOf(storage.commit({ records: [record('m2')] }));
      expect(error.code).toBe('storage-failed');
      expect(error.message).toMatch(/another tab upgraded or deleted/);
      expect(error.message).toMatch(/reload/);
    }), 5_000);

  it('a database written by a newer schema version is refused on open', async () => {
    const name = freshName();
    (await openDB(name, SCHEMA_VERSION + 1)).close();
    const error = await rejectionOf(IndexedDbStorage.open(name));
    expect(error.code).toBe('storage-failed');
    expect(error.message).toMatch(/newer version/);
    expect((error.cause as Error).name).toBe('VersionError');
    await deleteDB(name);
  });

  it('a database of the right version but without the stores is refused on open', async () => {
    const name = freshName();
    (await openDB(name, SCHEMA_VERSION)).close();
    const error = await rejectionOf(IndexedDbStorage.open(name));
    expect(error.code).toBe('storage-failed');
    expect(error.message).toMatch(/lacks the records, segments and state stores/);
    await deleteDB(name);
  });

  it('a new database is created at the schema version with its three stores', async () => {
    const storage = await IndexedDbStorage.open(freshName());
    storage.close();
    const raw = await openDB(storage.name);
    expect(raw.version).toBe(SCHEMA_VERSION);
    expect([...raw.objectStoreNames].sort()).toEqual(['records', 'segments', 'state']);
    raw.close();
    await deleteDB(storage.name);
  });

  it('destroy deletes the database: opening the name again finds it empty', async () => {
    const storage = await IndexedDbStorage.open(freshName());
    await storage.commit({ records: [record('m1')], state: nodeState(1) });
    const sameDatabase = await IndexedDbStorage.open(storage.name);
    await storage.destroy();
    // The other instance closed itself to let the deletion through.
    expect((await rejectionOf(sameDatabase.loadRecords())).code).toBe('storage-lost');
    const reopened = await IndexedDbStorage.open(storage.name);
    expect(await reopened.loadRecords()).toEqual([]);
    expect(await reopened.loadState()).toBeUndefined();
    await reopened.destroy();
  });

  it('destroy blocked by a connection that will not close says so, and the deletion happens once it closes', async () => {
    const storage = await IndexedDbStorage.open(freshName());
    await storage.commit({ records: [record('m1')] });
    const stubborn = await openDB(storage.name, SCHEMA_VERSION);
    const error = await rejectionOf(storage.destroy());
    expect(error.code).toBe('storage-failed');
    expect(error.message).toMatch(/another tab holds it open/);
    stubborn.close();
    const reopened = await IndexedDbStorage.open(storage.name);
    expect(await reopened.loadRecords()).toEqual([]);
    await reopened.destroy();
  });
});

describe('databaseName', () => {
  it('is engram-<room>-<nodeId>', () => {
    expect(databaseName('kitchen-notes', 'k3x9q')).toBe('engram-kitchen-notes-k3x9q');
  });

  it('refuses rooms and node ids that could make two nodes share a database', () => {
    expect(() => databaseName('a', 'b-c')).toThrow(EngramError);
    expect(() => databaseName('', 'n1')).toThrow(EngramError);
    expect(() => databaseName('a/b', 'n1')).toThrow(EngramError);
    expect(() => databaseName('a', '')).toThrow(EngramError);
    expect(() => databaseName('a'.repeat(65), 'n1')).toThrow(EngramError);
  });

  it('law: distinct (room, node) pairs get distinct databases', () => {
    const room = fc.stringMatching(/^[A-Za-z0-9_-]{1,64}$/);
    const node = fc.stringMatching(/^[A-Za-z0-9_.:]{1,128}$/);
    fc.assert(
      fc.property(room, node, room, node, (roomA, nodeA, roomB, nodeB) => {
        fc.pre(roomA !== roomB || nodeA !== nodeB);
        expect(databaseName(roomA, nodeA)).not.toBe(databaseName(roomB, nodeB));
      }),
      { numRuns: 500 },
    );
  });

  it('a commit is one appended segment, and compaction keeps exactly the latest record per id', () =>
    withDatabase(async (storage) => {
      await storage.loadRecords(); // The log's size is known from the first load on.
      for (let round = 1; round <= 5; round++) {
        await storage.commit({ records: [record('m1', version('a', round, `draft ${round}`)), record(`only-${round}`)] });
      }
      const raw = await openDB(storage.name);
      expect(await raw.count('segments')).toBe(5);
      raw.close();
      const before = await storage.loadRecords();
      await storage.compact();
      expect(storage.compactions).toBe(1);
      expect(storage.lastCompactionError).toBeUndefined();
      const compacted = await openDB(storage.name);
      expect(await compacted.count('segments')).toBe(1);
      compacted.close();
      const after = await storage.loadRecords();
      expect(sortById(after)).toEqual(sortById(before));
      expect(await storage.getRecord('m1')).toEqual(record('m1', version('a', 5, 'draft 5')));
    }));

  it('the log compacts itself once it holds about twice the records it needs', () =>
    withDatabase(async (storage) => {
      await storage.loadRecords();
      const ids = Array.from({ length: 100 }, (_, i) => `m${i}`);
      // 100 distinct ids rewritten 30 times: 3,000 records in the log, 100 needed.
      for (let round = 1; round <= 30; round++) await storage.commit({ records: ids.map((id) => record(id, version('a', round))) });
      // Nobody calls compact(): a commit must have started it.
      await vi.waitFor(() => expect(storage.compactions).toBeGreaterThanOrEqual(1));
      const raw = await openDB(storage.name);
      expect(await raw.count('segments')).toBeLessThan(30);
      raw.close();
      const loaded = await storage.loadRecords();
      expect(loaded).toHaveLength(100);
      for (const loadedRecord of loaded) expect(loadedRecord.siblings[0]!.dot.counter).toBe(30);
    }));

  it('commits made while a compaction runs land after it: nothing is lost or rolled back', () =>
    withDatabase(async (storage) => {
      await storage.loadRecords();
      await storage.commit({ records: [record('m1', version('a', 1, 'old')), record('m2')] });
      const compaction = storage.compact();
      const during = [storage.commit({ records: [record('m1', version('a', 2, 'new'))] }), storage.commit({ records: [record('m3')] })];
      await Promise.all([compaction, ...during]);
      expect(storage.compactions).toBe(1);
      expect(sortById(await storage.loadRecords())).toEqual(sortById([record('m1', version('a', 2, 'new')), record('m2'), record('m3')]));
    }));

  it('a schema-1 database (one row per record) opens with its records, and compaction moves them into segments', async () => {
    const name = freshName();
    const legacy = await openDB(name, 1, {
      upgrade: (db) => {
        db.createObjectStore('records', { keyPath: 'id' });
        db.createObjectStore('state');
      },
    });
    await legacy.put('records', record('m1', version('a', 1, 'from schema 1')));
    await legacy.put('records', record('m2'));
    await legacy.put('state', nodeState(7), 'node');
    legacy.close();
    const storage = await IndexedDbStorage.open(name);
    try {
      expect(await storage.loadState()).toEqual(nodeState(7));
      expect(sortById(await storage.loadRecords())).toEqual(sortById([record('m1', version('a', 1, 'from schema 1')), record('m2')]));
      await storage.commit({ records: [record('m1', version('a', 2, 'rewritten'))] });
      expect(await storage.getRecord('m1')).toEqual(record('m1', version('a', 2, 'rewritten')));
      await storage.compact();
      const raw = await openDB(name);
      expect(await raw.count('records')).toBe(0);
      raw.close();
      expect(sortById(await storage.loadRecords())).toEqual(sortById([record('m1', version('a', 2, 'rewritten')), record('m2')]));
    } finally {
      storage.close();
      await deleteDB(name);
    }
  });
});

function sortById(records: readonly MemoryRecord[]): MemoryRecord[] {
  return [...records].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}
