/**
 * The checker is a test of record only if it can fail: each bug it exists to catch is injected
 * into an otherwise healthy run, and the checker must report it; and each thing an AP store may
 * legitimately do (miss the other side's writes during a partition, hide a memory behind a later
 * version or a concurrent forget) is shown to it, and it must not complain.
 */
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_CONFIG } from '../src/core/config.js';
import { recall, type RecallQuery } from '../src/core/recall.js';
import type { MemoryRecord } from '../src/core/types.js';
import { checkReads, checkSnapshots, matchesQuery, snapshotOf, staleAfterMsFor, type ReplicaSnapshot } from '../src/check/checker.js';
import { SimCluster } from '../src/sim/cluster.js';
import { History, type RecallOperation } from '../src/check/history.js';

const STALE_AFTER_MS = staleAfterMsFor(DEFAULT_CONFIG);

let history: History;
let healthy: ReplicaSnapshot[];
let forgottenId: string;
let conflictId: string;
/** Ids of 'memory 0' .. 'memory 9', written on n0, n1, n2 in turn. */
const memoryIds: string[] = [];
let ownNoteId: string;
let partitionNewsId: string;
/** Written as 'draft', then rewritten on another node as 'memory draft': it matches 'memory' now. */
let rewrittenId: string;
/** The recalls made, by what they are for. */
const reads: Record<'firstOnN2' | 'partitioned' | 'afterHealOnN0' | 'ownNote' | 'againOnN2', RecallOperation> = {} as never;

beforeAll(async () => {
  const sim = await SimCluster.create({ nodes: 3, seed: 11 });
  await sim.run(2_000);
  history = new History();
  const write = async (index: number, content: string, id?: string, confidence = 0.8) => {
    const node = sim.node(index);
    const operation = history.invoke('remember', node.id, sim.now, id, content);
    const result = await sim.settle(node.remember({ content, confidence, ...(id ? { id } : {}) }));
    const version = (await node.get(result.id))!.siblings.find((s) => s.dot.counter === result.dot.counter && s.dot.node === result.dot.node);
    history.ok(operation, sim.now, result.id, result.dot, version?.context);
    return result.id;
  };
  const forget = async (index: number, id: string) => {
    const node = sim.node(index);
    const operation = history.invoke('forget', node.id, sim.now, id);
    const result = await sim.settle(node.forget(id));
    const tombstone = (await node.get(id))!.siblings.find((s) => s.dot.counter === result.dot.counter && s.dot.node === result.dot.node)!;
    history.ok(operation, sim.now, id, result.dot, tombstone.context);
  };
  const read = (index: number, query: RecallQuery) => {
    const node = sim.node(index);
    const operation = history.invokeRecall(node.id, sim.now, query);
    history.recallOk(operation, sim.now, node.recall(query));
    return operation;
  };

  for (let k = 0; k < 10; k++) memoryIds.push(await write(k % 3, `memory ${k}`));
  forgottenId = await write(0, 'to be forgotten');
  await sim.run(300);
  await forget(1, forgottenId);
  conflictId = await write(2, 'meet at ten');
  await sim.run(300);
  // A later version that no longer matches 'memory': recalls for 'memory' rightly leave it out.
  await write(1, 'renamed six', memoryIds[6]);
  rewrittenId = await write(0, 'draft');
  await sim.run(300);
  await write(1, 'memory draft', rewrittenId);
  await sim.run(STALE_AFTER_MS + 1_000);
  reads.firstOnN2 = read(2, { text: 'memory' });

  sim.partition([[0], [1, 2]]);
  await sim.run(2_000);
  await write(0, 'meet at eleven', conflictId);
  await write(1, 'meet at noon', conflictId);
  // Concurrent: n0 edits memory 7 (less confidently) while n1 forgets it; the tombstone is shown.
  await write(0, 'memory 7 edited', memoryIds[7], 0.5);
  await forget(1, memoryIds[7]!);
  partitionNewsId = await write(1, 'partition news');
  await sim.run(STALE_AFTER_MS + 1_000);
  // n0 cannot see the other side's news: a legitimate miss, and the recall says so.
  reads.partitioned = read(0, { text: 'news' });
  sim.heal();
  await sim.runUntil(() => sim.converged(), 10_000);
  await sim.run(STALE_AFTER_MS + 1_000);
  reads.afterHealOnN0 = read(0, { text: 'memory' });
  ownNoteId = await write(1, 'own note');
  reads.ownNote = read(1, { text: 'own note' });
  reads.againOnN2 = read(2, { text: 'memory' });
  await sim.runUntil(() => sim.converged(), 10_000);
  healthy = sim.liveIndexes().map((i) => snapshotOf(sim.node(i)));
});

function replace(snapshot: ReplicaSnapshot, record: MemoryRecord | undefined, id: string): ReplicaSnapshot {
  const records = snapshot.records.filter((r) => r.id !== id);
  return { ...snapshot, records: record ? [...records, record] : records, merkleRoot: `${snapshot.merkleRoot}-changed` };
}

/** The same history with one recall changed (a bug injected into what the node answered). */
function withRecall(target: RecallOperation, change: Partial<RecallOperation>, faults = history.faults): History {
  const copy = new History();
  copy.operations.push(...history.operations);
  copy.recalls.push(...history.recalls.map((read) => (read === target ? { ...read, ...change } : read)));
  copy.faults.push(...faults);
  return copy;
}

function without(read: RecallOperation, id: string): Partial<RecallOperation> {
  return { ids: read.ids!.filter((returned) => returned !== id) };
}

describe('the history checker', () => {
  it('passes a healthy healed cluster', () => {
    const report = checkSnapshots(history, healthy);
    expect(report).toMatchObject({ lostWrites: 0, resurrected: 0, converged: true, conflicts: 1, conflictsNotSurfaced: 0 });
    expect(report.acknowledged).toBe(22);
  });

  it('catches an acknowledged write that one replica lost', () => {
    const victim = history.acknowledged()[3]!.ackedId!;
    const broken = [replace(healthy[0]!, undefined, victim), ...healthy.slice(1)];
    const report = checkSnapshots(history, broken);
    expect(report.lostWrites).toBe(1);
    expect(report.lost[0]).toMatchObject({ id: victim, missingOn: [healthy[0]!.id] });
    expect(report.converged).toBe(false);
  });

  it('catches a write lost everywhere', () => {
    const victim = history.acknowledged()[5]!.ackedId!;
    const report = checkSnapshots(history, healthy.map((snapshot) => ({ ...replace(snapshot, undefined, victim), merkleRoot: 'same' })));
    expect(report.lostEverywhere).toBe(1);
  });

  it('catches a replica that did not converge (a different sibling set under an equal-looking id)', () => {
    const record = healthy[2]!.records.find((r) => r.id === conflictId)!;
    const oneSibling = { ...record, siblings: record.siblings.slice(0, 1) };
    const report = checkSnapshots(history, [...healthy.slice(0, 2), replace(healthy[2]!, oneSibling, conflictId)]);
    expect(report.converged).toBe(false);
    expect(report.divergentRecords).toBe(1);
    expect(report.distinctRoots).toBe(2);
  });

  it('catches a forgotten memory that came back', () => {
    // The version the forget superseded, back as if the tombstone had never been.
    const original = history.acknowledged().find((op) => op.kind === 'remember' && op.ackedId === forgottenId)!;
    const tombstone = healthy[0]!.records.find((r) => r.id === forgottenId)!.siblings[0]!;
    const beforeForget = {
      id: forgottenId,
      siblings: [{ ...tombstone, deleted: false, content: 'to be forgotten', dot: original.dot!, context: {} }],
    };
    const report = checkSnapshots(history, healthy.map((snapshot) => replace(snapshot, beforeForget, forgottenId)));
    expect(report.resurrected).toBe(1);
  });

  it('catches a conflict missing from a review queue', () => {
    const broken = [{ ...healthy[0]!, conflictIds: [] }, ...healthy.slice(1)];
    expect(checkSnapshots(history, broken).conflictsNotSurfaced).toBe(1);
  });
});

describe('the history checker on recalls', () => {
  it('finds nothing wrong with the recalls of a healthy run, and did judge them', () => {
    const report = checkReads(history);
    expect(report).toMatchObject({ recalls: 5, recallsWithWarning: 1, recallsTruncated: 0, readYourWritesViolations: 0, monotonicReadViolations: 0, staleReads: 0 });
    expect(report.staleAfterMs).toBe(STALE_AFTER_MS);
    expect(report.readsJudged.readYourWrites).toBeGreaterThan(0);
    expect(report.readsJudged.monotonic).toBeGreaterThan(0);
    expect(report.readsJudged.stale).toBeGreaterThan(0);
  });

  it('catches a node whose recall misses its own acknowledged write (read-your-writes)', () => {
    const report = checkReads(withRecall(reads.ownNote, without(reads.ownNote, ownNoteId)));
    expect(report.readYourWritesViolations).toBe(1);
    expect(report.readViolations).toEqual([expect.objectContaining({ kind: 'read-your-writes', node: 'n1', missing: ownNoteId })]);
    expect(checkSnapshots(withRecall(reads.ownNote, without(reads.ownNote, ownNoteId)), healthy).readYourWritesViolations).toBe(1);
  });

  it('catches a read at full visibility that misses a write acknowledged long before on another node (stale read)', () => {
    const victim = memoryIds[0]!; // written on n0, read on n2 over 6 s later
    expect(reads.firstOnN2.ids).toContain(victim);
    const report = checkReads(withRecall(reads.firstOnN2, without(reads.firstOnN2, victim)));
    expect(report).toMatchObject({ staleReads: 1, readYourWritesViolations: 0, monotonicReadViolations: 0 });
    expect(report.worstStaleLagMs).toBeGreaterThan(STALE_AFTER_MS);
    expect(report.readViolations[0]).toMatchObject({ kind: 'stale-read', node: 'n2', missing: victim });
  });

  it('expects a memory rewritten to match: the version it replaced does not excuse a miss', () => {
    expect(reads.firstOnN2.ids).toContain(rewrittenId);
    expect(checkReads(withRecall(reads.firstOnN2, without(reads.firstOnN2, rewrittenId)))).toMatchObject({ staleReads: 1 });
  });

  it('catches a node that stops returning a memory it returned before (monotonic reads)', () => {
    const victim = memoryIds[0]!;
    const report = checkReads(withRecall(reads.againOnN2, without(reads.againOnN2, victim)));
    expect(report.monotonicReadViolations).toBe(1);
    expect(report.readViolations[0]).toMatchObject({ kind: 'monotonic-read', node: 'n2', missing: victim });
  });

  it('does not flag a partitioned read that misses the other side and carries the warning', () => {
    expect(reads.partitioned.warning).toBe('Partial cluster visibility - may be incomplete');
    expect(reads.partitioned.ids).not.toContain(partitionNewsId);
    expect(checkReads(history).staleReads).toBe(0);
  });

  it('flags the same miss without the warning, unless the nemesis logged the partition', () => {
    const claimsFullView = { warning: undefined, visibility: { visible: 3, total: 3 } };
    expect(checkReads(withRecall(reads.partitioned, claimsFullView))).toMatchObject({ staleReads: 1 });
    const partitionAt = reads.firstOnN2.invokedAt + 1;
    const logged = [{ at: partitionAt, description: 'partition [[0],[1,2]]', faulted: true }];
    expect(checkReads(withRecall(reads.partitioned, claimsFullView, logged))).toMatchObject({ staleReads: 0 });
  });

  it('counts staleness from the heal for writes made across a cut', () => {
    const healAt = reads.afterHealOnN0.invokedAt - 1_000;
    const logged = [
      { at: reads.firstOnN2.invokedAt + 1, description: 'partition', faulted: true },
      { at: healAt, description: 'heal', faulted: false },
    ];
    // One second after the heal, missing the other side's partition-time write is lag, not staleness.
    const missesNews = checkReads(withRecall(reads.afterHealOnN0, { query: { text: 'news' }, ids: [] }, logged));
    expect(missesNews).toMatchObject({ staleReads: 0, laggingReads: 1 });
    expect(missesNews.worstLagWithinBoundMs).toBe(1_000);
  });

  it('does not flag a memory whose later version no longer matches, or that a concurrent forget hides', () => {
    // memory 6 was renamed, memory 7 forgotten concurrently with an edit: neither is returned, rightly.
    expect(reads.firstOnN2.ids).not.toContain(memoryIds[6]);
    expect(reads.afterHealOnN0.ids).not.toContain(memoryIds[7]);
    expect(reads.againOnN2.ids).not.toContain(memoryIds[7]);
    expect(reads.firstOnN2.ids).toContain(memoryIds[7]);
    expect(checkReads(history)).toMatchObject({ readYourWritesViolations: 0, monotonicReadViolations: 0, staleReads: 0 });
  });

  it('does not judge a recall that returned as many results as its limit', () => {
    const truncated = { query: { text: 'memory', limit: 3 }, ids: reads.firstOnN2.ids!.slice(0, 3) };
    expect(checkReads(withRecall(reads.firstOnN2, truncated))).toMatchObject({ recallsTruncated: 1, staleReads: 0 });
  });
});

describe('the checker\'s query matching', () => {
  it('agrees with recall on whether a memory matches a query', () => {
    const word = fc.constantFrom('Garden', 'garden', 'tomato', 'TOMATO', 'to', 'mat', 'berlin', 'a', '', ' ', 'ß', 'İstanbul');
    const text = fc.array(word, { maxLength: 4 }).map((words) => words.join(' '));
    const tags = fc.array(word, { maxLength: 3 });
    fc.assert(
      fc.property(text, tags, fc.option(text, { nil: undefined }), fc.option(tags, { nil: undefined }), (content, memoryTags, queryText, queryTags) => {
        const query: RecallQuery = { ...(queryText === undefined ? {} : { text: queryText }), ...(queryTags === undefined ? {} : { tags: queryTags }) };
        const record: MemoryRecord = {
          id: 'm',
          siblings: [{ content, tags: memoryTags, confidence: 1, deleted: false, dot: { node: 'n0', counter: 1 }, context: {}, createdAt: 0, author: 'n0', writtenAt: 0, generation: 0 }],
        };
        const visibility = { visible: 1, total: 1, ratio: 1, penalty: 1, generation: 0 };
        const recalled = recall([record], { ...query, limit: 1 }, visibility, () => false).results.length === 1;
        expect(matchesQuery(content, memoryTags, query)).toBe(recalled);
      }),
      { numRuns: 2_000 },
    );
  });
});
