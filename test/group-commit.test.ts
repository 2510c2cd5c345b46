import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { GroupCommit, type Change } from '../src/core/group-commit.js';
import type { MemoryId, MemoryRecord } from '../src/core/types.js';
import { MemoryStorage } from '../src/store/memory-storage.js';
import { SimCluster } from '../src/sim/cluster.js';

/** A record whose one sibling carries `content`; enough for the queue, which never looks inside. */
function record(id: MemoryId, content: string): MemoryRecord {
  return {
    id,
    siblings: [{ dot: { node: 'n', counter: 1 }, context: {}, content, tags: [], confidence: 1, deleted: false, createdAt: 0, writtenAt: 0, author: 'n', generation: 0 }],
  };
}

/** A queue over a plain map, with a storage whose commits the test can hold, fail and count. */
function harness(maxRecords = 100) {
  const installed = new Map<MemoryId, MemoryRecord>();
  let counter = 0;
  const commits: { records: string[]; counter: number }[] = [];
  const afterErrors: unknown[] = [];
  let failNext: Error | undefined;
  const queue = new GroupCommit({
    record: (id) => installed.get(id),
    counter: () => counter,
    commit: async (records, _removed, next) => {
      await Promise.resolve();
      if (failNext) {
        const error = failNext;
        failNext = undefined;
        throw error;
      }
      commits.push({ records: records.map((r) => `${r.id}=${r.siblings[0]!.content}`), counter: next });
    },
    install: (records, _removed, next) => {
      counter = next;
      for (const r of records) installed.set(r.id, r);
    },
    maxRecords,
    afterFailed: (error) => afterErrors.push(error),
  });
  /** Appends `text` to a memory's content and takes the next counter value. */
  const append = (id: MemoryId, text: string): Change<number> => ({
    plan: (stage) => {
      stage.put(record(id, `${stage.record(id)?.siblings[0]!.content ?? ''}${text}`));
      return ++stage.counter;
    },
  });
  return { queue, installed, commits, afterErrors, append, failNext: (error: Error) => (failNext = error), counter: () => counter };
}

describe('GroupCommit', () => {
  it('commits the changes submitted together in one round, each planned on top of the one before', async () => {
    const { queue, commits, installed, append } = harness();
    const results = await Promise.all([append('a', 'x'), append('a', 'y'), append('b', 'z')].map((change) => queue.submit(change)));
    expect(results).toEqual([1, 2, 3]);
    expect(commits).toEqual([{ records: ['a=xy', 'b=z'], counter: 3 }]);
    expect(installed.get('a')!.siblings[0]!.content).toBe('xy');
  });

  it('takes what queued up during a commit as the next round', async () => {
    const { queue, commits, append } = harness();
    const first = queue.submit(append('a', '1'));
    await Promise.resolve();
    await Promise.resolve(); // The first round is now waiting on storage.
    const later = [queue.submit(append('a', '2')), queue.submit(append('b', '3'))];
    await Promise.all([first, ...later]);
    expect(commits).toEqual([
      { records: ['a=1'], counter: 1 },
      { records: ['a=12', 'b=3'], counter: 3 },
    ]);
  });

  it('a change whose plan throws is rejected alone and leaves nothing staged', async () => {
    const { queue, commits, append } = harness();
    const bad: Change<never> = {
      plan: (stage) => {
        stage.put(record('a', 'half-done'));
        stage.counter += 10;
        throw new Error('not-found');
      },
    };
    const outcomes = await Promise.allSettled([queue.submit(append('a', 'x')), queue.submit(bad), queue.submit(append('a', 'y'))]);
    expect(outcomes.map((outcome) => outcome.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(commits).toEqual([{ records: ['a=xy'], counter: 2 }]);
  });

  it('a failed commit rejects every change of its round, installs none of them, and the queue goes on', async () => {
    const { queue, commits, installed, append, failNext, counter } = harness();
    failNext(new Error('disk full'));
    const outcomes = await Promise.allSettled([queue.submit(append('a', 'x')), queue.submit(append('b', 'y'))]);
    expect(outcomes.map((outcome) => outcome.status)).toEqual(['rejected', 'rejected']);
    expect(installed.size).toBe(0);
    expect(counter()).toBe(0);
    expect(await queue.submit(append('a', 'z'))).toBe(1);
    expect(commits).toEqual([{ records: ['a=z'], counter: 1 }]);
  });

  it('a round that staged no record skips storage, unless a change asks to persist', async () => {
    const { queue, commits } = harness();
    await queue.submit({ plan: () => 'nothing to merge' });
    expect(commits).toEqual([]);
    await queue.submit({ plan: () => undefined, persist: true });
    expect(commits).toEqual([{ records: [], counter: 0 }]);
  });

  it('a round stops taking changes at maxRecords', async () => {
    const { queue, commits, append } = harness(2);
    await Promise.all(['a', 'b', 'c', 'd', 'e'].map((id) => queue.submit(append(id, id))));
    expect(commits.map((commit) => commit.records.length)).toEqual([2, 2, 1]);
  });

  it('an `after` that throws is reported, its change still resolves, and later changes still commit', async () => {
    const { queue, afterErrors, append } = harness();
    const throwing: Change<number> = { ...append('a', 'x'), after: () => { throw new Error('listener broke'); } };
    await expect(queue.submit(throwing)).resolves.toBe(1);
    await expect(queue.submit(append('b', 'y'))).resolves.toBe(2);
    expect(afterErrors).toHaveLength(1);
  });

  it('whatever mix of good, bad and failed-commit changes, the acknowledged ones are exactly what is installed, in order', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.record({ id: fc.constantFrom('a', 'b', 'c'), bad: fc.boolean(), failCommit: fc.boolean(), gap: fc.boolean() }), { minLength: 1, maxLength: 30 }), async (steps) => {
        const { queue, installed, append, failNext } = harness(3);
        const expected = new Map<MemoryId, string>();
        const pending: Promise<void>[] = [];
        for (const [index, step] of steps.entries()) {
          if (step.failCommit) failNext(new Error('refused'));
          const change: Change<number> = step.bad ? { plan: () => { throw new Error('bad'); } } : append(step.id, `${index},`);
          pending.push(
            queue.submit(change).then(
              () => void expected.set(step.id, `${expected.get(step.id) ?? ''}${index},`),
              () => undefined,
            ),
          );
          if (step.gap) await queue.idle();
        }
        await Promise.all(pending);
        await queue.idle();
        for (const [id, content] of expected) expect(installed.get(id)?.siblings[0]!.content).toBe(content);
        expect([...installed.keys()].sort()).toEqual([...expected.keys()].sort());
      }),
      { numRuns: 200 },
    );
  });
});

describe('EngramNode group commit', () => {
  it('fifty writes in flight at once take far fewer storage commits, keep dense dots, and all survive a reopen', async () => {
    const sim = await SimCluster.create({ nodes: 1, seed: 3 });
    await sim.run(500);
    const node = sim.node(0);
    const storage = sim.storages[0] as MemoryStorage;
    const commitsBefore = storage.commits;
    const acks = await sim.settle(Promise.all(Array.from({ length: 50 }, (_, k) => node.remember({ content: `note ${k}` }))), 10_000);
    expect(acks.map((ack) => ack.dot.counter)).toEqual(acks.map((_, k) => acks[0]!.dot.counter + k));
    expect(storage.commits - commitsBefore).toBeLessThanOrEqual(2);
    const reopened = await storage.loadRecords();
    for (const ack of acks) expect(reopened.some((stored) => stored.id === ack.id)).toBe(true);
    expect((await storage.loadState())!.counter).toBe(acks[49]!.dot.counter);
  });

  it('a forget queued right behind the write it forgets sees that write', async () => {
    const sim = await SimCluster.create({ nodes: 1, seed: 4 });
    await sim.run(500);
    const node = sim.node(0);
    const written = node.remember({ content: 'temporary', id: 'm1' });
    const forgotten = node.forget('m1');
    await sim.settle(Promise.all([written, forgotten]), 10_000);
    expect(node.recall({ text: 'temporary' }).results).toEqual([]);
    expect((await node.get('m1'))!.siblings.map((sibling) => sibling.deleted)).toEqual([true]);
  });
});

describe('a heal on slow storage', () => {
  it('is not abandoned while one side is still committing what it received (storage slower than a heal step)', async () => {
    // Every commit takes 3 s, longer than the 2 s a heal step may stay silent.
    const sim = await SimCluster.create({ nodes: 2, seed: 5, storageLatencyMs: 3_000 });
    await sim.run(2_000);
    sim.partition([[0], [1]]);
    await sim.run(3_000);
    // Only one side wrote: the other commits for seconds while the writer has nothing to do but wait.
    const writes = Array.from({ length: 300 }, (_, k) => sim.node(0).remember({ content: `side 0 note ${k}` }));
    await sim.settle(Promise.all(writes), 60_000);
    const outcomes: string[] = [];
    for (const index of [0, 1]) sim.node(index).on('heal', (report) => void outcomes.push(report.outcome));
    sim.heal();
    await sim.runUntil(() => sim.converged(), 60_000);
    await sim.run(10_000); // The sessions end (heal-done both ways) just after the roots agree.
    expect(outcomes).toContain('converged');
    expect(outcomes).not.toContain('aborted');
  });
});
