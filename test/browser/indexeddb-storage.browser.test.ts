/**
 * The storage contract against Chromium's own IndexedDB (vitest browser mode, the chromium
 * project in vitest.config.ts): the same suite test/storage.test.ts runs on fake-indexeddb,
 * which models the API but not the browser's structured clone, quota or transaction timing.
 */
import { describe, expect, it } from 'vitest';
import { IndexedDbStorage } from '../../src/store/indexeddb-storage.js';
import { indexedDbFixture } from '../indexeddb-fixture.js';
import { nodeState, record, runStorageContract, version } from '../storage-contract.js';

let databases = 0;

runStorageContract('IndexedDbStorage (Chromium)', () => indexedDbFixture(`engram-browser-test-${Date.now()}-${(databases += 1)}`));

describe('IndexedDbStorage.destroy in Chromium', () => {
  it('deletes the database although this tab’s own connection is still finishing a commit', async () => {
    const storage = await IndexedDbStorage.open(`engram-browser-destroy-${Date.now()}`);
    // The outcome is taken at once: the commit may fail (typed) while destroy() closes the
    // connection, and a rejection nobody has handled yet would escape the test.
    const committing = storage
      .commit({ records: [record('m1', version('a', 1)), record('m2', version('a', 2))], state: nodeState(2) })
      .then(() => 'saved' as const, (error: unknown) => error);
    // Closing waits for the commit's transaction: Chromium reports the deletion 'blocked' meanwhile.
    await storage.destroy();
    const outcome = await committing;
    if (outcome !== 'saved') expect(outcome).toMatchObject({ code: expect.stringMatching(/^storage-/) });
    const names = (await indexedDB.databases()).map((database) => database.name);
    expect(names).not.toContain(storage.name);
  });

  it('says another tab holds the database when a foreign connection stays open', async () => {
    const storage = await IndexedDbStorage.open(`engram-browser-foreign-${Date.now()}`);
    const foreign = await new Promise<IDBDatabase>((resolve, reject) => {
      const request = indexedDB.open(storage.name);
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
    try {
      await expect(storage.destroy()).rejects.toMatchObject({ code: 'storage-failed', message: expect.stringContaining('another tab holds it open') });
    } finally {
      foreign.close();
    }
  });
});
