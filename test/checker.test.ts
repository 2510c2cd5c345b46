/**
 * The checker is a test of record only if it can fail: each bug it exists to catch is injected
 * into an otherwise healthy run, and the checker must report it.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { MemoryRecord } from '../src/core/types.js';
import { checkSnapshots, snapshotOf, type ReplicaSnapshot } from '../src/sim/checker.js';
import { SimCluster } from '../src/sim/cluster.js';
import { History } from '../src/sim/history.js';

let history: History;
let healthy: ReplicaSnapshot[];
let forgottenId: string;
let conflictId: string;

beforeAll(async () => {
  const sim = await SimCluster.create({ nodes: 3, seed: 11 });
  await sim.run(2_000);
  history = new History();
  const write = async (index: number, content: string, id?: string) => {
    const node = sim.node(index);
    const operation = history.invoke('remember', node.id, sim.now, id, content);
    const result = await sim.settle(node.remember({ content, confidence: 0.8, ...(id ? { id } : {}) }));
    history.ok(operation, sim.now, result.id, result.dot);
    return result.id;
  };
  for (let k = 0; k < 10; k++) await write(k % 3, `memory ${k}`);
  forgottenId = await write(0, 'to be forgotten');
  await sim.run(300);
  const forget = history.invoke('forget', 'n1', sim.now, forgottenId);
  const result = await sim.settle(sim.node(1).forget(forgottenId));
  const tombstone = (await sim.node(1).get(forgottenId))!.siblings.find((s) => s.dot.counter === result.dot.counter)!;
  history.ok(forget, sim.now, forgottenId, result.dot, tombstone.context);
  conflictId = await write(2, 'meet at ten');
  await sim.run(300);
  sim.partition([[0], [1, 2]]);
  await sim.run(2_000);
  await write(0, 'meet at eleven', conflictId);
  await write(1, 'meet at noon', conflictId);
  sim.heal();
  await sim.runUntil(() => sim.converged(), 10_000);
  healthy = sim.liveIndexes().map((i) => snapshotOf(sim.node(i)));
});

function replace(snapshot: ReplicaSnapshot, record: MemoryRecord | undefined, id: string): ReplicaSnapshot {
  const records = snapshot.records.filter((r) => r.id !== id);
  return { ...snapshot, records: record ? [...records, record] : records, merkleRoot: `${snapshot.merkleRoot}-changed` };
}

describe('the history checker', () => {
  it('passes a healthy healed cluster', () => {
    const report = checkSnapshots(history, healthy);
    expect(report).toMatchObject({ lostWrites: 0, resurrected: 0, converged: true, conflicts: 1, conflictsNotSurfaced: 0 });
    expect(report.acknowledged).toBe(15);
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
