/**
 * Honest storage (issue 9, item 5): a full store opens, reads and refuses new content with a
 * readable storage-full error while forgets still fit; a database that vanishes under the tab is
 * noticed and said; a folded replica's records enter the node through its normal merge path.
 * IndexedDB here is fake-indexeddb; the same in real Chromium with a quota override is
 * e2e/storage.spec.ts.
 */
import 'fake-indexeddb/auto';
import { deleteDB } from 'idb';
import { afterEach, describe, expect, it } from 'vitest';
import { EngramError } from '../src/core/errors.js';
import { EngramNode } from '../src/core/node.js';
import type { Transport } from '../src/core/ports.js';
import { SeededRandom } from '../src/core/random.js';
import type { MemoryRecord } from '../src/core/types.js';
import { VirtualScheduler } from '../src/sim/scheduler.js';
import { IndexedDbStorage } from '../src/store/indexeddb-storage.js';
import { MemoryStorage } from '../src/store/memory-storage.js';
import { STORAGE_HEALTH_CONFIG, StorageHealth, type StorageManagerPort, type StorageStatus } from '../src/store/storage-health.js';
import { nodeState, record, version } from './storage-contract.js';

const MB = 1_000_000;
const reserve = STORAGE_HEALTH_CONFIG.reserveBytes;

/** navigator.storage with figures the test sets. */
class FakeStorageManager implements StorageManagerPort {
  usage = 10 * MB;
  quota = 100 * MB;
  grantPersistence = true;
  async persist(): Promise<boolean> {
    return this.grantPersistence;
  }
  async estimate(): Promise<{ usage: number; quota: number }> {
    return { usage: this.usage, quota: this.quota };
  }
}

const tombstone = (id: string, node: string, counter: number): MemoryRecord => ({
  id,
  siblings: [{ ...version(node, counter, ''), deleted: true }],
});

let databases = 0;
const opened: IndexedDbStorage[] = [];

async function openWithHealth(manager = new FakeStorageManager()): Promise<{ storage: IndexedDbStorage; health: StorageHealth; manager: FakeStorageManager; statuses: StorageStatus[] }> {
  const health = new StorageHealth(manager);
  await health.start();
  const statuses: StorageStatus[] = [];
  health.onChange((status) => statuses.push(status));
  const storage = await IndexedDbStorage.open(`engram-health-${(databases += 1)}`, { health });
  opened.push(storage);
  return { storage, health, manager, statuses };
}

async function rejectionOf(promise: Promise<unknown>): Promise<EngramError> {
  const outcome = await promise.then(
    () => 'resolved',
    (error: unknown) => error,
  );
  if (!(outcome instanceof EngramError)) throw new Error(`expected an EngramError, got ${String(outcome)}`);
  return outcome;
}

afterEach(async () => {
  for (const storage of opened.splice(0)) {
    storage.close();
    await deleteDB(storage.name);
  }
});

describe('storage health', () => {
  it('asks for persistent storage and reports whether it was granted, with the usage and quota figures', async () => {
    const { health } = await openWithHealth();
    expect(health.status()).toEqual({ state: 'ok', persisted: true, usageBytes: 10 * MB, quotaBytes: 100 * MB });
    const refused = new FakeStorageManager();
    refused.grantPersistence = false;
    const other = new StorageHealth(refused);
    await other.start();
    expect(other.status().persisted).toBe(false);
    const bare = new StorageHealth(undefined);
    await bare.start();
    expect(bare.status()).toEqual({ state: 'ok', persisted: undefined });
  });

  it('a persistence answer that comes later (a prompt) is announced, and the figures are there before it', async () => {
    let grant: (granted: boolean) => void = () => undefined;
    const manager = new FakeStorageManager();
    manager.persist = () => new Promise<boolean>((resolve) => (grant = resolve));
    const health = new StorageHealth(manager);
    const statuses: StorageStatus[] = [];
    health.onChange((status) => statuses.push(status));
    await health.refreshEstimate();
    const asked = health.requestPersistence();
    expect(health.status()).toEqual({ state: 'ok', persisted: undefined, usageBytes: 10 * MB, quotaBytes: 100 * MB });
    grant(false);
    await asked;
    expect(statuses.at(-1)).toEqual({ state: 'ok', persisted: false, usageBytes: 10 * MB, quotaBytes: 100 * MB });
  });

  it('reads answered from memory are refused once the database is gone', async () => {
    const { storage, health } = await openWithHealth();
    expect(() => health.assertPresent()).not.toThrow();
    await deleteDB(storage.name);
    expect(() => health.assertPresent()).toThrow(expect.objectContaining({ code: 'storage-lost' }) as Error);
  });

  it('a store in its reserve refuses new content with storage-full, giving usage and quota, and saves none of it', async () => {
    const { storage, health, manager, statuses } = await openWithHealth();
    await storage.commit({ records: [record('m1')], state: nodeState(1) });
    manager.usage = manager.quota - reserve / 2;
    await health.refreshEstimate();
    const error = await rejectionOf(storage.commit({ records: [record('m2', version('a', 2))], state: nodeState(2) }));
    expect(error.code).toBe('storage-full');
    expect(error.message).toBe(
      "The browser's storage for this site is full (99.9 MB used of 100.0 MB allowed): this write was not saved. Forget memories you no longer need, or free space for this site in the browser's settings, then try again.",
    );
    expect(await storage.loadRecords()).toEqual([record('m1')]);
    expect(await storage.loadState()).toEqual(nodeState(1));
    expect(health.status()).toMatchObject({ state: 'full', message: error.message });
    expect(statuses.map((status) => status.state)).toContain('full');
  });

  it('figures that show the store in its reserve say full at once, before any write is refused', async () => {
    const manager = new FakeStorageManager();
    manager.usage = manager.quota - reserve / 2;
    const health = new StorageHealth(manager);
    await health.start();
    expect(health.status()).toMatchObject({ state: 'full', usageBytes: manager.usage, quotaBytes: manager.quota });
    expect(health.status().message).toMatch(/^The browser's storage for this site is full \(99\.9 MB used of 100\.0 MB allowed\)/);
  });

  it('with plenty of room usage is re-estimated every 64 commits, not after each; near full after each', async () => {
    const manager = new FakeStorageManager();
    let estimates = 0;
    const estimate = manager.estimate.bind(manager);
    manager.estimate = () => {
      estimates += 1;
      return estimate();
    };
    const { storage, health } = await openWithHealth(manager);
    estimates = 0;
    for (let i = 1; i <= 128; i++) await storage.commit({ state: nodeState(i) });
    await health.refreshEstimate();
    expect(estimates).toBe(3); // after commits 64 and 128, and the one asked here
    manager.usage = manager.quota - 2 * reserve;
    await health.refreshEstimate();
    estimates = 0;
    for (let i = 1; i <= 5; i++) {
      await storage.commit({ state: nodeState(200 + i) });
      await health.refreshEstimate();
    }
    expect(estimates).toBe(10);
  });

  it('policy: a forget (tombstones only) and the node state still fit in the reserve', async () => {
    const { storage, health, manager } = await openWithHealth();
    await storage.commit({ records: [record('m1')], state: nodeState(1) });
    manager.usage = manager.quota - reserve / 2;
    await health.refreshEstimate();
    await storage.commit({ records: [tombstone('m1', 'a', 2)], state: nodeState(2) });
    await storage.commit({ state: nodeState(3) });
    expect(await storage.loadRecords()).toEqual([tombstone('m1', 'a', 2)]);
    expect(await storage.loadState()).toEqual(nodeState(3));
  });

  it('once space is freed the store is ok again and takes new content', async () => {
    const { storage, health, manager } = await openWithHealth();
    manager.usage = manager.quota;
    await health.refreshEstimate();
    expect((await rejectionOf(storage.commit({ records: [record('m1')] }))).code).toBe('storage-full');
    manager.usage = 50 * MB;
    await storage.commit({ records: [record('m1')] });
    await health.refreshEstimate();
    expect(health.status()).toEqual({ state: 'ok', persisted: true, usageBytes: 50 * MB, quotaBytes: 100 * MB });
  });

  it('a database another tab deletes is noticed: state lost, every later call storage-lost, the change announced', async () => {
    const { storage, health, statuses } = await openWithHealth();
    await storage.commit({ records: [record('m1')], state: nodeState(1) });
    await deleteDB(storage.name);
    expect(health.status().state).toBe('lost');
    expect(health.status().message).toMatch(/^This tab's database is gone \(another tab deleted the database of this tab\): nothing is saved any more/);
    expect(statuses.at(-1)?.state).toBe('lost');
    for (const call of [() => storage.commit({ records: [record('m2')] }), () => storage.loadRecords(), () => storage.loadState()]) {
      const error = await rejectionOf(call());
      expect(error.code).toBe('storage-lost');
      expect(error.message).toMatch(/Reload the tab/);
    }
  });

  it('a failed background compaction reaches the error listeners', async () => {
    const { storage, health } = await openWithHealth();
    const errors: Error[] = [];
    health.onError((error) => errors.push(error));
    storage.close();
    await storage.compact();
    expect(errors.map((error) => (error as EngramError).code)).toEqual(['storage-failed']);
    expect(errors[0]?.message).toMatch(/compact the record log/);
  });
});

describe('the node on a full store', () => {
  const silent: Transport = { send: () => undefined, onMessage: () => undefined };
  const full = new EngramError('storage-full', "The browser's storage for this site is full (1.00 MB used of 1.00 MB allowed): this write was not saved.");

  async function nodeOn(storage: MemoryStorage, id = 'n1'): Promise<EngramNode> {
    return EngramNode.open({ id, transport: silent, storage, scheduler: new VirtualScheduler(), random: new SeededRandom(7) });
  }

  it('opens and reads although the start cannot be recorded, and refuses writes with the storage-full message', async () => {
    const storage = new MemoryStorage();
    const before = await nodeOn(storage);
    const { id } = await before.remember({ content: 'seed potatoes in march' });
    before.stop();
    storage.failCommits = full;
    const node = await nodeOn(storage);
    expect(node.startError?.code).toBe('storage-full');
    expect(node.recall({ text: 'potatoes' }).results.map((item) => item.id)).toEqual([id]);
    const error = await rejectionOf(node.remember({ content: 'will not fit' }));
    expect(error.code).toBe('storage-full');
    expect(error.message).toBe(full.message);
  });

  it('any other failure to record the start still stops the open', async () => {
    const storage = new MemoryStorage();
    storage.failCommits = new EngramError('storage-failed', 'disk gone');
    await expect(nodeOn(storage)).rejects.toMatchObject({ code: 'storage-failed', message: 'could not record the node start in storage' });
  });

  it('absorb merges records from a folded replica durably, like records from a peer, and is idempotent', async () => {
    const source = await nodeOn(new MemoryStorage(), 'old');
    const a = await source.remember({ content: 'the shed key is under the pot' });
    const b = await source.remember({ content: 'water the basil' });
    await source.forget(b.id);
    const storage = new MemoryStorage();
    const node = await nodeOn(storage, 'live');
    const writes: string[] = [];
    node.on('write', (event) => writes.push(`${event.id}:${event.local}`));
    expect(await node.absorb([...source.allRecords()])).toBe(2);
    expect(node.recall({ text: 'shed' }).results.map((item) => item.id)).toEqual([a.id]);
    expect(node.recall({ text: 'basil' }).results).toEqual([]);
    expect(node.merkleRoot()).toBe(source.merkleRoot());
    expect((await storage.loadRecords()).map((r) => r.id).sort()).toEqual([a.id, b.id].sort());
    expect(writes.sort()).toEqual([`${a.id}:false`, `${b.id}:false`].sort());
    expect(await node.absorb([...source.allRecords()])).toBe(0);
  });
});
