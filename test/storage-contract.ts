/**
 * The Storage contract (src/core/ports.ts) as one acceptance suite, run against every adapter
 * (test/storage.test.ts): whatever holds a node's data must pass all of it. Adapters differ only
 * in the fixture that sets them up, restarts them and makes them fail.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EngramError } from '../src/core/errors.js';
import type { Storage, StorageBatch } from '../src/core/ports.js';
import type { MemoryRecord, NodeState, Version } from '../src/core/types.js';

/** One adapter instance under test, with the means to restart it and to make it fail. */
export interface StorageFixture {
  /** Fresh and empty. */
  readonly storage: Storage;
  /** A new instance over the same durable data, as a reloaded tab would open it. */
  reopen(): Promise<Storage>;
  /**
   * Makes every later commit of `storage` fail after part of its batch has been written, in the
   * way this adapter really can fail (a value it cannot store, a full disk).
   */
  breakCommits(): void;
  /** Releases and deletes whatever the fixture created. */
  dispose(): Promise<void>;
}

export function version(node: string, counter: number, content = `written by ${node} as its event ${counter}`): Version {
  return {
    dot: { node, counter },
    context: { [node]: counter },
    content,
    tags: ['contract'],
    confidence: 0.75,
    deleted: false,
    createdAt: 1_000,
    author: node,
    writtenAt: 1_000 + counter,
    generation: 0,
  };
}

export function record(id: string, ...siblings: Version[]): MemoryRecord {
  return { id, siblings: siblings.length > 0 ? siblings : [version('a', 1, `memory ${id}`)] };
}

export function nodeState(counter: number): NodeState {
  return {
    nodeId: 'a',
    counter,
    incarnation: 2,
    generation: 1,
    generations: [
      { generation: 0, since: 0, visible: ['a'] },
      { generation: 1, since: 500, visible: ['a', 'b'], partial: true },
    ],
  };
}

const byId = (records: readonly MemoryRecord[]): MemoryRecord[] =>
  [...records].sort((left, right) => (left.id < right.id ? -1 : left.id > right.id ? 1 : 0));

const versionArb: fc.Arbitrary<Version> = fc
  .record({
    node: fc.constantFrom('a', 'b', 'tab:7'),
    counter: fc.integer({ min: 1, max: 1_000_000 }),
    content: fc.string({ maxLength: 40 }),
    tags: fc.array(fc.string({ maxLength: 8 }), { maxLength: 3 }),
    confidence: fc.double({ min: 0, max: 1, noNaN: true }),
    deleted: fc.boolean(),
    writtenAt: fc.integer({ min: 0, max: 2 ** 45 }),
  })
  .map(({ node, counter, content, tags, confidence, deleted, writtenAt }) => ({
    dot: { node, counter },
    context: { [node]: counter },
    content,
    tags,
    confidence,
    deleted,
    createdAt: writtenAt,
    author: node,
    writtenAt,
    generation: counter % 3,
  }));

/** Few ids, so that batches often overwrite one another. */
const recordArb: fc.Arbitrary<MemoryRecord> = fc.record({
  id: fc.constantFrom('m1', 'm2', 'm3', 'm4', 'm5'),
  siblings: fc.array(versionArb, { minLength: 1, maxLength: 3 }),
});

const batchArb: fc.Arbitrary<StorageBatch> = fc.record(
  {
    records: fc.array(recordArb, { maxLength: 4 }),
    state: fc.integer({ min: 0, max: 10_000 }).map(nodeState),
  },
  { requiredKeys: [] },
);

export function runStorageContract(name: string, makeStorage: () => Promise<StorageFixture>): void {
  /** Runs `body` on a fresh fixture and disposes of it whatever happens. */
  async function withFixture(body: (fixture: StorageFixture) => Promise<void>): Promise<void> {
    const fixture = await makeStorage();
    try {
      await body(fixture);
    } finally {
      await fixture.dispose();
    }
  }

  describe(`Storage contract: ${name}`, () => {
    it('an empty storage loads no state and no records', () =>
      withFixture(async ({ storage }) => {
        expect(await storage.loadState()).toBeUndefined();
        expect(await storage.loadRecords()).toEqual([]);
        expect(await storage.getRecord('m1')).toBeUndefined();
      }));

    it('what a commit saved loads back equal, by id and in full', () =>
      withFixture(async ({ storage }) => {
        const first = record('m1', version('a', 1), version('b', 4));
        const second = record('m2');
        await storage.commit({ records: [first, second], state: nodeState(4) });
        expect(await storage.loadState()).toEqual(nodeState(4));
        expect(byId(await storage.loadRecords())).toEqual([first, second]);
        expect(await storage.getRecord('m1')).toEqual(first);
        expect(await storage.getRecord('m2')).toEqual(second);
      }));

    it('getRecord of an id never committed is undefined', () =>
      withFixture(async ({ storage }) => {
        await storage.commit({ records: [record('m1')] });
        expect(await storage.getRecord('m9')).toBeUndefined();
        expect(await storage.getRecord('')).toBeUndefined();
      }));

    it('a later commit of the same id replaces the record', () =>
      withFixture(async ({ storage }) => {
        await storage.commit({ records: [record('m1', version('a', 1, 'first draft'))] });
        const replacement = record('m1', version('a', 2, 'second draft'));
        await storage.commit({ records: [replacement] });
        expect(await storage.getRecord('m1')).toEqual(replacement);
        expect(await storage.loadRecords()).toEqual([replacement]);
      }));

    it('a batch without state keeps the saved state, and one without records keeps the saved records', () =>
      withFixture(async ({ storage }) => {
        await storage.commit({ records: [record('m1')], state: nodeState(1) });
        await storage.commit({ records: [record('m2')] });
        expect(await storage.loadState()).toEqual(nodeState(1));
        await storage.commit({ state: nodeState(2) });
        expect(await storage.loadState()).toEqual(nodeState(2));
        expect(byId(await storage.loadRecords()).map((saved) => saved.id)).toEqual(['m1', 'm2']);
      }));

    it('what a load returns is the caller’s copy: changing it changes nothing stored', () =>
      withFixture(async ({ storage }) => {
        await storage.commit({ records: [record('m1')], state: nodeState(3) });
        const loaded = (await storage.getRecord('m1')) as unknown as { siblings: Version[] };
        loaded.siblings.push(version('z', 9));
        const state = (await storage.loadState()) as { counter: number };
        state.counter = 99;
        expect(await storage.getRecord('m1')).toEqual(record('m1'));
        expect(await storage.loadState()).toEqual(nodeState(3));
      }));

    it('a commit that fails partway lands nothing: not the state, not one record, and says storage-failed', () =>
      withFixture(async (fixture) => {
        const { storage } = fixture;
        const before = record('m1', version('a', 1, 'before the failure'));
        await storage.commit({ records: [before], state: nodeState(1) });
        fixture.breakCommits();
        const failed = storage.commit({
          state: nodeState(2),
          records: [record('m1', version('a', 2, 'lost')), record('m2'), record('m3')],
        });
        const error: unknown = await failed.then(
          () => undefined,
          (rejection: unknown) => rejection,
        );
        expect(error).toBeInstanceOf(EngramError);
        expect(error).toMatchObject({ code: 'storage-failed' });
        expect(await storage.loadState()).toEqual(nodeState(1));
        expect(await storage.loadRecords()).toEqual([before]);
        expect(await storage.getRecord('m2')).toBeUndefined();
        const restarted = await fixture.reopen();
        expect(await restarted.loadState()).toEqual(nodeState(1));
        expect(await restarted.loadRecords()).toEqual([before]);
      }));

    it('a restart (a new instance on the same data) sees everything committed', () =>
      withFixture(async (fixture) => {
        await fixture.storage.commit({ records: [record('m1'), record('m2')], state: nodeState(1) });
        await fixture.storage.commit({ records: [record('m2', version('b', 3))], state: nodeState(2) });
        const restarted = await fixture.reopen();
        expect(await restarted.loadState()).toEqual(nodeState(2));
        expect(byId(await restarted.loadRecords())).toEqual([record('m1'), record('m2', version('b', 3))]);
        expect(await restarted.getRecord('m2')).toEqual(record('m2', version('b', 3)));
      }));

    it('many concurrent commits all land, and they apply in the order they were called', () =>
      withFixture(async ({ storage }) => {
        const commitCount = 60;
        const commits = Array.from({ length: commitCount }, (_, i) =>
          storage.commit({
            records: [record(`m${i}`), record('shared', version('a', i + 1))],
            state: nodeState(i + 1),
          }),
        );
        await Promise.all(commits);
        const saved = await storage.loadRecords();
        expect(saved).toHaveLength(commitCount + 1);
        for (let i = 0; i < commitCount; i += 1) expect(await storage.getRecord(`m${i}`)).toEqual(record(`m${i}`));
        // Commit order is the node's write order: applying an older state last would let the dot
        // counter go backwards and a restarted node reuse dots.
        expect(await storage.getRecord('shared')).toEqual(record('shared', version('a', commitCount)));
        expect(await storage.loadState()).toEqual(nodeState(commitCount));
      }));

    it('law: after any commits, issued together, loads equal the last value committed per id and the last state', async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(batchArb, { maxLength: 6 }), (batches) =>
          withFixture(async ({ storage }) => {
            const expectedRecords = new Map<string, MemoryRecord>();
            let expectedState: NodeState | undefined;
            for (const batch of batches) {
              for (const saved of batch.records ?? []) expectedRecords.set(saved.id, saved);
              expectedState = batch.state ?? expectedState;
            }
            await Promise.all(batches.map((batch) => storage.commit(batch)));
            expect(byId(await storage.loadRecords())).toEqual(byId([...expectedRecords.values()]));
            expect(await storage.loadState()).toEqual(expectedState);
            for (const [id, expected] of expectedRecords) expect(await storage.getRecord(id)).toEqual(expected);
          }),
        ),
        { numRuns: 60 },
      );
    });
  });
}
