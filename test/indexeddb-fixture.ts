/**
 * The IndexedDB adapter as a storage-contract fixture (test/storage-contract.ts), shared by the
 * run on fake-indexeddb (test/storage.test.ts) and the run in real Chromium
 * (test/browser/indexeddb-storage.browser.test.ts), so both judge the same adapter the same way.
 */
import type { Storage, StorageBatch } from '../src/core/ports.js';
import type { MemoryRecord } from '../src/core/types.js';
import { IndexedDbStorage } from '../src/store/indexeddb-storage.js';
import { version, type StorageFixture } from './storage-contract.js';

/**
 * A record IndexedDB refuses halfway through writing a batch: a function cannot be structured-
 * cloned, so its put throws after the state and the records before it were already written.
 */
export function withUnstorableRecord(batch: StorageBatch): StorageBatch {
  const records = [...(batch.records ?? [])];
  const unstorable = { id: 'unstorable', siblings: [{ ...version('a', 1), content: () => 'no' }] };
  records.splice(1, 0, unstorable as unknown as MemoryRecord);
  return { ...batch, records };
}

export async function indexedDbFixture(name: string): Promise<StorageFixture> {
  const adapter = await IndexedDbStorage.open(name);
  const instances = [adapter];
  let commitsBroken = false;
  const storage: Storage = {
    loadState: () => adapter.loadState(),
    loadRecords: () => adapter.loadRecords(),
    getRecord: (id) => adapter.getRecord(id),
    commit: (batch) => adapter.commit(commitsBroken ? withUnstorableRecord(batch) : batch),
  };
  return {
    storage,
    reopen: async () => {
      const restarted = await IndexedDbStorage.open(adapter.name);
      instances.push(restarted);
      return restarted;
    },
    breakCommits: () => {
      commitsBroken = true;
    },
    dispose: async () => {
      for (const instance of instances) instance.close();
      await adapter.destroy();
    },
  };
}
