import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Member, MemberState } from '../src/core/types.js';
import {
  PARTIAL_VISIBILITY_WARNING,
  adjustConfidence,
  computeVisibility,
  penaltyFactor,
  visibilityWarning,
} from '../src/core/visibility.js';

const FLOOR = 0.25;
const unitInterval = fc.double({ min: 0, max: 1, noNaN: true });

function member(id: string, state: MemberState): Member {
  return { id, state, incarnation: 0, lastHeardAt: undefined, stateChangedAt: 0 };
}

function cluster(...states: MemberState[]): Member[] {
  return [member('self', 'alive'), ...states.map((state, i) => member(`peer-${i}`, state))];
}

describe('penaltyFactor', () => {
  it('is 1 with the whole cluster visible and the floor with none of it', () => {
    expect(penaltyFactor(1, FLOOR)).toBe(1);
    expect(penaltyFactor(0, FLOOR)).toBe(FLOOR);
  });

  it.each([
    [4 / 5, 0.97],
    [3 / 5, 0.88],
    [2 / 5, 0.73],
    [1 / 5, 0.52],
  ])('at floor 0.25 seeing %f of the cluster gives %f', (ratio, factor) => {
    expect(penaltyFactor(ratio, FLOOR)).toBeCloseTo(factor, 10);
  });

  it('costs little for the first member lost and much for the last', () => {
    const firstLoss = penaltyFactor(5 / 5, FLOOR) - penaltyFactor(4 / 5, FLOOR);
    const lastLoss = penaltyFactor(2 / 5, FLOOR) - penaltyFactor(1 / 5, FLOOR);
    expect(firstLoss).toBeLessThan(lastLoss / 5);
  });

  it('never decreases as more of the cluster becomes visible', () => {
    fc.assert(
      fc.property(unitInterval, unitInterval, unitInterval, (x, y, floor) => {
        const [low, high] = x <= y ? [x, y] : [y, x];
        expect(penaltyFactor(low, floor)).toBeLessThanOrEqual(penaltyFactor(high, floor));
      }),
      { numRuns: 500 },
    );
  });

  it('stays within [floor, 1]', () => {
    fc.assert(
      fc.property(unitInterval, unitInterval, (ratio, floor) => {
        const factor = penaltyFactor(ratio, floor);
        expect(factor).toBeGreaterThanOrEqual(floor);
        expect(factor).toBeLessThanOrEqual(1);
      }),
      { numRuns: 500 },
    );
  });

  it('is concave: the midpoint lies above the chord', () => {
    fc.assert(
      fc.property(unitInterval, unitInterval, unitInterval, (x, y, floor) => {
        const chord = (penaltyFactor(x, floor) + penaltyFactor(y, floor)) / 2;
        expect(penaltyFactor((x + y) / 2, floor)).toBeGreaterThanOrEqual(chord - 1e-12);
      }),
      { numRuns: 500 },
    );
  });

  it('throws RangeError for a ratio or floor outside [0, 1] or NaN instead of clamping a bug away', () => {
    for (const ratio of [Number.NaN, -0.01, 1.01, Number.POSITIVE_INFINITY]) {
      expect(() => penaltyFactor(ratio, FLOOR)).toThrow(RangeError);
    }
    for (const floor of [Number.NaN, -0.1, 1.5]) {
      expect(() => penaltyFactor(0.5, floor)).toThrow(RangeError);
    }
  });
});

describe('computeVisibility', () => {
  it('counts alive members (self included) as visible and alive, suspect and dead ones as the cluster', () => {
    const visibility = computeVisibility(cluster('alive', 'suspect', 'dead', 'alive'), 3, FLOOR);
    expect(visibility).toEqual({ visible: 3, total: 5, ratio: 3 / 5, penalty: penaltyFactor(3 / 5, FLOOR), generation: 3 });
  });

  it('leaves members that left out of the cluster entirely', () => {
    const visibility = computeVisibility(cluster('alive', 'left', 'left'), 0, FLOOR);
    expect(visibility.visible).toBe(2);
    expect(visibility.total).toBe(2);
    expect(visibility.penalty).toBe(1);
  });

  it('gives a node alone in its cluster no penalty', () => {
    expect(computeVisibility(cluster(), 0, FLOOR).penalty).toBe(1);
  });

  it('gives a node that sees nobody else of five the 1/5 figure', () => {
    expect(computeVisibility(cluster('dead', 'dead', 'suspect', 'dead'), 1, FLOOR).penalty).toBeCloseTo(0.52, 10);
  });

  it('refuses a member list that does not even hold this node', () => {
    expect(() => computeVisibility([], 0, FLOOR)).toThrow(RangeError);
  });
});

describe('adjustConfidence and visibilityWarning', () => {
  const full = computeVisibility(cluster('alive', 'alive'), 0, FLOOR);
  const partial = computeVisibility(cluster('alive', 'dead', 'dead', 'dead'), 1, FLOOR);

  it('scales confidence by the penalty', () => {
    expect(adjustConfidence(0.8, full)).toBe(0.8);
    expect(adjustConfidence(0.8, partial)).toBeCloseTo(0.8 * 0.73, 10);
  });

  it('clamps a replicated confidence outside [0, 1] rather than failing the read', () => {
    expect(adjustConfidence(1.7, partial)).toBeCloseTo(0.73, 10);
    expect(adjustConfidence(-0.2, partial)).toBe(0);
    expect(adjustConfidence(Number.NaN, partial)).toBe(0);
  });

  it('warns exactly when part of the cluster is out of sight', () => {
    expect(visibilityWarning(full)).toBeUndefined();
    expect(visibilityWarning(partial)).toBe(PARTIAL_VISIBILITY_WARNING);
    expect(PARTIAL_VISIBILITY_WARNING).toBe('Partial cluster visibility - may be incomplete');
  });
});
