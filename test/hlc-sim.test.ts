/**
 * Hybrid timestamps in the simulator: every node's wall clock is skewed by up to ten minutes, and
 * a version written after seeing another still carries the larger timestamp.
 */
import { describe, expect, it } from 'vitest';
import { SeededRandom } from '../src/core/random.js';
import type { Version } from '../src/core/types.js';
import { covers, dotKey } from '../src/core/vector-clock.js';
import { SIM_EPOCH_MS, SimCluster } from '../src/sim/cluster.js';

const SEED = 7;
const SKEW_MS = 600_000;

describe('hybrid timestamps across skewed nodes (simulator)', () => {
  it(`a version written after seeing another has the larger timestamp, though its writer's wall clock is minutes behind (seed ${SEED})`, async () => {
    const cluster = await SimCluster.create({ nodes: 4, seed: SEED, clockSkewMs: SKEW_MS });
    const spreadMs = Math.max(...cluster.skewsMs) - Math.min(...cluster.skewsMs);
    // The run means something only if the clocks disagree by far more than the run lasts.
    expect(spreadMs, `skews ${cluster.skewsMs.join(', ')}`).toBeGreaterThan(300_000);
    await cluster.run(2_000);

    const random = new SeededRandom(SEED);
    const seen = new Map<string, Version>();
    /** The writer's wall clock (ms) when it wrote each version, by dot. */
    const wallAtWrite = new Map<string, number>();
    const ids: string[] = [];
    for (let step = 0; step < 120; step++) {
      const index = random.int(4);
      const node = cluster.node(index);
      const id = ids.length > 0 && random.next() < 0.8 ? ids[random.int(ids.length)] : undefined;
      const wall = SIM_EPOCH_MS + cluster.now + (cluster.skewsMs[index] as number);
      const { id: written, dot } = await cluster.settle(node.remember({ content: `step ${step}`, ...(id ? { id } : {}) }));
      if (!id) ids.push(written);
      wallAtWrite.set(dotKey(dot), wall);
      for (const i of cluster.liveIndexes()) {
        for (const record of cluster.node(i).allRecords()) for (const version of record.siblings) seen.set(dotKey(version.dot), version);
      }
      // Sometimes the next writer has already received this write, sometimes not (concurrent edits).
      await cluster.run(random.int(3) * 15);
    }

    let ordered = 0;
    let againstTheWall = 0;
    const violations: string[] = [];
    const versions = [...seen.values()];
    for (const later of versions) {
      for (const earlier of versions) {
        if (later === earlier || !covers(later.context, earlier.dot)) continue;
        ordered += 1;
        if (!(later.writtenAt > earlier.writtenAt)) violations.push(`${dotKey(later.dot)} (${later.writtenAt}) saw ${dotKey(earlier.dot)} (${earlier.writtenAt})`);
        // The writer's own wall clock said "earlier" than what it had seen: only the hybrid clock orders these.
        if ((wallAtWrite.get(dotKey(later.dot)) as number) < earlier.writtenAt) againstTheWall += 1;
      }
    }
    expect(violations).toEqual([]);
    expect(ordered).toBeGreaterThan(100);
    expect(againstTheWall, 'pairs whose later writer had a wall clock behind the earlier timestamp').toBeGreaterThan(20);
    // And the timestamps are wall-clock times: within the skew of the simulated date.
    for (const version of versions) {
      expect(Math.abs(version.writtenAt - (SIM_EPOCH_MS + cluster.now))).toBeLessThan(SKEW_MS + 60_000);
    }
  });
});
