/**
 * The simulator as the test of record: seeded runs across the whole fault menu, each judged by
 * the history checker. Every failure message names the seed, and
 *   npm run sim -- --scenario <shape> --seed <seed> --nodes 5 --updates <n>
 * replays it exactly.
 */
import { describe, expect, it } from 'vitest';
import { runScenario, SCENARIOS, type ScenarioName, type ScenarioResult } from '../src/sim/scenarios.js';

const FAULT_MENU = (Object.keys(SCENARIOS) as ScenarioName[]).filter((name) => name !== 'failure');
/** Seeds per scenario: 11 scenarios x this = the number of seeded runs. */
const SEEDS_PER_SCENARIO = Number(process.env.ENGRAM_SIM_SEEDS ?? 20);

function summary(result: ScenarioResult): string {
  return `replay: npm run sim -- --scenario ${result.scenario} --seed ${result.seed} --nodes ${result.nodes} --updates ${result.updates}\n${JSON.stringify(
    { shape: result.shape, lost: result.check.lost, converged: result.converged, roots: result.check.distinctRoots, divergent: result.check.divergentRecords, heal: result.heal },
  )}`;
}

describe.each(FAULT_MENU)('scenario %s', (scenario) => {
  it(`loses no acknowledged write and converges after every heal (${SEEDS_PER_SCENARIO} seeds)`, async () => {
    for (let seed = 1; seed <= SEEDS_PER_SCENARIO; seed++) {
      const result = await runScenario({
        nodes: 5,
        scenario,
        seed,
        updates: 150,
        warmupMs: 2_000,
        healthyMs: 500,
        minFaultMs: 3_000,
        // ~40 writes/s per node: enough to diverge on every side, small enough for hundreds of runs.
        thinkMs: 25,
      });
      expect(result.lostWrites, summary(result)).toBe(0);
      expect(result.resurrected, summary(result)).toBe(0);
      expect(result.converged, summary(result)).toBe(true);
      expect(result.conflicts.notSurfaced, summary(result)).toBe(0);
      expect(result.gistsIdentical, summary(result)).toBe(true);
      expect(result.check.acknowledged, summary(result)).toBeGreaterThan(150);
    }
  });
});

describe('the product targets in the simulator (5 nodes, default config)', () => {
  it('detects a 3|2 split within 1.5 s p99, keeps writing at full speed, and heals 10,000 updates shipping <= 1.25x the divergent records', async () => {
    const result = await runScenario({ nodes: 5, scenario: 'halves', seed: 1, updates: 10_000 });
    expect(result.detectionMs.undetected, summary(result)).toBe(0);
    expect(result.detectionMs.p99, summary(result)).not.toBeNull();
    expect(result.detectionMs.p99 as number, summary(result)).toBeLessThanOrEqual(1_500);
    expect(result.throughputRatio as number).toBeGreaterThanOrEqual(0.95);
    expect(result.updates).toBeGreaterThanOrEqual(10_000);
    expect(result.heal.divergentRecords).toBeGreaterThanOrEqual(10_000);
    expect(result.heal.recordsShipped / result.heal.divergentRecords, summary(result)).toBeLessThanOrEqual(1.25);
    expect(result.lostWrites).toBe(0);
    expect(result.converged).toBe(true);
    expect(result.sides.length).toBeGreaterThan(0);
  });

  it('detection p99 stays within 1.5 s across seeds and split shapes', async () => {
    const samples: number[] = [];
    for (const scenario of ['halves', 'isolate', 'three-way', 'one-way'] as const) {
      for (let seed = 1; seed <= 5; seed++) {
        const result = await runScenario({ nodes: 5, scenario, seed, updates: 50, warmupMs: 2_000, healthyMs: 300, minFaultMs: 2_500, thinkMs: 50 });
        expect(result.detectionMs.undetected, summary(result)).toBe(0);
        samples.push(result.detectionMs.max as number);
      }
    }
    samples.sort((a, b) => a - b);
    const p99 = samples[Math.ceil(samples.length * 0.99) - 1] as number;
    expect(p99, `per-run worst detection times: ${samples.join(', ')}`).toBeLessThanOrEqual(1_500);
  });

  it('keeps the median clock overhead at or under 16 bytes per message after 100 distinct members', async () => {
    const result = await runScenario({
      nodes: 5,
      pastMembers: 95,
      scenario: 'halves',
      seed: 3,
      updates: 500,
      warmupMs: 3_000,
      healthyMs: 1_000,
      thinkMs: 10,
    });
    expect(result.clockBytes.messages).toBeGreaterThan(1_000);
    expect(result.clockBytes.median, JSON.stringify(result.clockBytes)).toBeLessThanOrEqual(16);
    expect(result.lostWrites).toBe(0);
    expect(result.converged).toBe(true);
  });

  it('the partition generation tells which side wrote what', async () => {
    const result = await runScenario({ nodes: 5, scenario: 'halves', seed: 4, updates: 300, warmupMs: 2_000, healthyMs: 300, thinkMs: 20 });
    const partialSides = result.sides.filter((side) => side.visible !== null && side.visible.length < 5);
    expect(partialSides.length, JSON.stringify(result.sides)).toBeGreaterThan(0);
    // A writer's partial generations saw its own side (and, before detection finished, maybe part of the other).
    const sideA = ['n0', 'n1', 'n2'];
    for (const side of partialSides) {
      const ownSide = sideA.includes(side.writer) ? sideA : ['n3', 'n4'];
      expect(side.visible).toEqual(expect.arrayContaining(ownSide));
    }
    const fullySplit = partialSides.filter((side) => side.visible!.length === (sideA.includes(side.writer) ? 3 : 2));
    expect(fullySplit.length, JSON.stringify(result.sides)).toBeGreaterThan(0);
  });
});
