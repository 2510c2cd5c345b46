/**
 * Forgetting frees space (issue 9, core/frontier.ts): tombstones are collected once every version
 * they superseded would be recognised as obsolete, and a replica that comes back after the horizon
 * with old versions resurrects nothing. ENGRAM_SIM_PAST_HORIZON_SEEDS (default 100) sets how many
 * seeds the past-horizon scenario runs.
 */
import { describe, expect, it } from 'vitest';
import { collectable, droppable, learnFrontier, obsolete, withOwnEntry } from '../src/core/frontier.js';
import type { MemoryRecord, Version } from '../src/core/types.js';
import { SimCluster } from '../src/sim/cluster.js';
import { PAST_HORIZON_CONFIG, runScenario, type ScenarioOptions } from '../src/sim/scenarios.js';

const SEEDS = Number(process.env.ENGRAM_SIM_PAST_HORIZON_SEEDS ?? 100);
const NOW = 1_000_000;
const HORIZON = 1_000;
const CUTOFF = NOW - HORIZON;

function version(node: string, counter: number, overrides: Partial<Version> = {}): Version {
  return {
    dot: { node, counter },
    context: {},
    content: 'x',
    tags: [],
    confidence: 1,
    deleted: false,
    createdAt: 0,
    author: node,
    writtenAt: CUTOFF - 1,
    generation: 0,
    ...overrides,
  };
}

const tombstone = (node: string, counter: number, context: Record<string, number>, writtenAt = CUTOFF - 1): MemoryRecord => ({
  id: 'm',
  siblings: [version(node, counter, { deleted: true, context, writtenAt })],
});

describe('the frontier (pure rules)', () => {
  it('learns a peer’s entries only up to what this replica knows of each writer, never its own, and says when nothing grew', () => {
    const known = (node: string) => ({ a: 10, b: 5 })[node as 'a' | 'b'] ?? 0;
    expect(learnFrontier({ a: 3 }, { a: 8, b: 99, self: 50, c: 4 }, 'self', known)).toEqual({ a: 8, b: 5 });
    expect(learnFrontier({ a: 8, b: 5 }, { a: 8, b: 99 }, 'self', known)).toBeUndefined();
  });

  it('fills in the replica’s own entry from its counter', () => {
    expect(withOwnEntry({ a: 2 }, 'me', 7)).toEqual({ a: 2, me: 7 });
  });

  it('calls a version obsolete only when its dot is under the frontier and it is older than the horizon', () => {
    expect(obsolete(version('a', 3), { a: 3 }, CUTOFF)).toBe(true);
    expect(obsolete(version('a', 4), { a: 3 }, CUTOFF)).toBe(false);
    // A fresh write is never obsolete on anyone's word: a lying frontier cannot drop it.
    expect(obsolete(version('a', 3, { writtenAt: NOW }), { a: Number.MAX_SAFE_INTEGER }, CUTOFF)).toBe(false);
    expect(droppable({ id: 'm', siblings: [version('a', 3, { writtenAt: NOW })] }, { a: 2 ** 48 }, CUTOFF)).toBe(false);
  });

  it('collects a record only when every sibling is an old tombstone whose dot and context the frontier covers', () => {
    expect(collectable(tombstone('a', 5, { b: 2 }), { a: 5, b: 2 }, CUTOFF)).toBe(true);
    expect(collectable(tombstone('a', 5, { b: 3 }), { a: 5, b: 2 }, CUTOFF), 'b:3 would come back').toBe(false);
    expect(collectable(tombstone('a', 5, { b: 2 }), { a: 4, b: 2 }, CUTOFF), 'its own dot unseen').toBe(false);
    expect(collectable(tombstone('a', 5, {}, CUTOFF + 1), { a: 5 }, CUTOFF), 'younger than the horizon').toBe(false);
    const withLiveSibling: MemoryRecord = { id: 'm', siblings: [...tombstone('a', 5, {}).siblings, version('b', 1)] };
    expect(collectable(withLiveSibling, { a: 5, b: 1 }, CUTOFF), 'a concurrent edit keeps it').toBe(false);
  });
});

describe('forgetting in a cluster', () => {
  it('1,000 memories remembered then forgotten leave no record in memory or storage once the horizon passed, also after restarts', async () => {
    const cluster = await SimCluster.create({ nodes: 3, seed: 9, config: PAST_HORIZON_CONFIG, clockSkewMs: 500 });
    await cluster.run(2_000);
    const writer = cluster.node(0);
    const ids = await cluster.settle(Promise.all(Array.from({ length: 1_000 }, (_, i) => writer.remember({ content: `memory ${i}` }).then((r) => r.id))));
    await cluster.runUntil(() => cluster.converged() && cluster.node(2).recordCount === 1_000, 30_000);
    // Node 2 goes away holding every live version; the others forget them all.
    cluster.crash(2);
    await cluster.settle(Promise.all(ids.map((id) => cluster.node(1).forget(id))));
    await cluster.runUntil(() => [0, 1].every((i) => cluster.node(i).recordCount === 0), 60_000);
    expect([0, 1].map((i) => cluster.storages[i]?.recordCount)).toEqual([0, 0]);
    expect(cluster.node(0).stats().tombstonesCollected + cluster.node(1).stats().tombstonesCollected).toBe(2_000);
    // A restart must keep what made the deletions safe (the frontier), or node 2's versions would come back.
    await cluster.restart(0);
    await cluster.restart(2);
    expect(cluster.node(2).recordCount, 'node 2 comes back with the old versions').toBe(1_000);
    await cluster.runUntil(() => cluster.liveIndexes().every((i) => cluster.node(i).recordCount === 0), 60_000);
    await cluster.run(5_000);
    expect(cluster.liveIndexes().map((i) => cluster.node(i).recordCount)).toEqual([0, 0, 0]);
    expect(cluster.liveIndexes().map((i) => cluster.node(i).recall({ limit: 10 }).matched)).toEqual([0, 0, 0]);
    expect(cluster.node(2).stats().obsoleteDropped).toBe(1_000);
  });
});

describe('scenario past-horizon', () => {
  const totals = { collectedBeforeHeal: 0, refused: 0, dropped: 0 };
  // In groups of 20 seeds, so that no one test runs for minutes on a loaded machine.
  const groups = Array.from({ length: Math.ceil(SEEDS / 20) }, (_, k) => [k * 20 + 1, Math.min(SEEDS, k * 20 + 20)] as const);
  it.each(groups)('resurrects nothing, loses nothing and converges when a replica returns after the horizon (seeds %i-%i)', async (first, last) => {
    for (let seed = first; seed <= last; seed++) {
      const options: ScenarioOptions = { nodes: 5, scenario: 'past-horizon', seed, updates: 100, warmupMs: 2_000, healthyMs: 500, minFaultMs: 3_000, thinkMs: 40 };
      const result = await runScenario(options);
      const context = `seed ${seed}: ${JSON.stringify({ forgetting: result.forgetting, lost: result.check.lost, roots: result.check.distinctRoots })}`;
      expect(result.lostWrites, context).toBe(0);
      expect(result.resurrected, context).toBe(0);
      expect(result.forgetting.cameBack, context).toBe(0);
      expect(result.converged, context).toBe(true);
      expect(result.forgetting.tombstonesLeft, context).toBe(0);
      expect(result.check.readYourWritesViolations + result.check.monotonicReadViolations, context).toBe(0);
      totals.collectedBeforeHeal += result.forgetting.collectedBeforeHeal;
      totals.refused += result.forgetting.refused;
      totals.dropped += result.forgetting.dropped;
    }
  });

  it(`exercises what it claims to over the ${SEEDS} seeds: tombstones collected while the replica was away, its old versions refused by the others and dropped by itself`, () => {
    expect(totals.collectedBeforeHeal).toBeGreaterThan(SEEDS * 50);
    expect(totals.refused).toBeGreaterThan(0);
    expect(totals.dropped).toBeGreaterThan(SEEDS * 50);
  });
});
