/**
 * No ceiling on clock entries: a cluster whose past holds more writers than one header may carry
 * (4,500 > MAX_HEADER_ENTRIES = 4,096) still lets a new node join, catch up, and be heard. Before
 * paging, a header of more than 4,096 entries threw, and the joiner never saw the others.
 */
import { describe, expect, it } from 'vitest';
import { MAX_HEADER_ENTRIES } from '../src/core/clock-codec.js';
import type { MemoryRecord } from '../src/core/types.js';
import { SIM_EPOCH_MS, SimCluster } from '../src/sim/cluster.js';

const SEED = 3;
const PAST_WRITERS = 4_500;

/** One memory from each of PAST_WRITERS tabs long gone: each left its id in every node clock. */
function pastRecords(): MemoryRecord[] {
  return Array.from({ length: PAST_WRITERS }, (_, k) => ({
    id: `past-${k}.1.x`,
    siblings: [{ dot: { node: `past-tab-${k}`, counter: 1 }, context: {}, content: `hello from past tab ${k}`, tags: [], confidence: 1, deleted: false, createdAt: SIM_EPOCH_MS - 1_000, author: `past-tab-${k}`, writtenAt: SIM_EPOCH_MS - 1_000, generation: 0 }],
  }));
}

describe('clock entries without a ceiling (simulator)', () => {
  it(`with ${PAST_WRITERS} writers in the cluster's past, a new node joins, catches up, and its writes reach everyone; no send throws (seed ${SEED})`, async () => {
    expect(PAST_WRITERS).toBeGreaterThan(MAX_HEADER_ENTRIES);
    const cluster = await SimCluster.create({ nodes: 4, seed: SEED, standby: 4 });
    const records = pastRecords();
    for (const i of [0, 1, 2]) await cluster.settle(cluster.storages[i]!.commit({ records }));
    for (const i of [0, 1, 2]) await cluster.restart(i);
    const errors: string[] = [];
    for (const i of [0, 1, 2]) cluster.node(i).on('error', ({ error }) => errors.push(`n${i}: ${error.message}`));
    await cluster.run(3_000);
    expect(Object.keys(cluster.node(0).nodeClock())).toHaveLength(PAST_WRITERS);

    const joiner = await cluster.restart(3);
    joiner.on('error', ({ error }) => errors.push(`n3: ${error.message}`));
    const caughtUpMs = await cluster.runUntil(() => joiner.recordCount === PAST_WRITERS && cluster.converged(), 60_000, 50);
    expect(caughtUpMs, 'the joiner caught up').not.toBeUndefined();
    expect(joiner.visibility()).toMatchObject({ visible: 4, total: 4 });

    const { id } = await cluster.settle(joiner.remember({ content: 'written by the newcomer' }));
    const reachedMs = await cluster.runUntil(() => [0, 1, 2].every((i) => cluster.node(i).recall({ text: 'newcomer' }).results[0]?.id === id), 10_000, 10);
    expect(reachedMs, 'the joiner\'s write reached every node').not.toBeUndefined();
    expect(errors).toEqual([]);
  }, 60_000);
});
