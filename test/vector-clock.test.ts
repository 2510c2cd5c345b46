import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Dot, VersionVector } from '../src/core/types.js';
import {
  compare,
  compareDots,
  covers,
  deltaSince,
  dotKey,
  EMPTY_CLOCK,
  entry,
  merge,
  withDot,
  type Ordering,
} from '../src/core/vector-clock.js';

const RUNS = { numRuns: 400 };

// Few node names so that random clocks overlap; zero entries included because absent means 0.
const nodeId = fc.constantFrom('a', 'b', 'c', 'd', 'e');
const clock: fc.Arbitrary<VersionVector> = fc.dictionary(nodeId, fc.nat({ max: 6 }));
const dot: fc.Arbitrary<Dot> = fc.record({ node: nodeId, counter: fc.integer({ min: 1, max: 8 }) });

/** The clock without its zero entries: two clocks mean the same thing iff these are deeply equal. */
function normalized(c: VersionVector): Record<string, number> {
  return Object.fromEntries(Object.entries(c).filter(([, v]) => v > 0));
}

/** The definition of the causal order, entry by entry, to check compare() against. */
function referenceOrdering(a: VersionVector, b: VersionVector): Ordering {
  const nodes = new Set([...Object.keys(a), ...Object.keys(b)]);
  const aLeqB = [...nodes].every((n) => entry(a, n) <= entry(b, n));
  const bLeqA = [...nodes].every((n) => entry(b, n) <= entry(a, n));
  if (aLeqB && bLeqA) return 'equal';
  if (aLeqB) return 'before';
  if (bLeqA) return 'after';
  return 'concurrent';
}

const CONVERSE: Record<Ordering, Ordering> = { equal: 'equal', before: 'after', after: 'before', concurrent: 'concurrent' };

/** a includes everything b includes. */
const dominates = (a: VersionVector, b: VersionVector) => ['after', 'equal'].includes(compare(a, b));

describe('compare', () => {
  it('agrees with the entry-wise definition of the causal order (absent entries are 0)', () => {
    fc.assert(fc.property(clock, clock, (a, b) => compare(a, b) === referenceOrdering(a, b)), RUNS);
  });

  it('is antisymmetric: a is before b exactly when b is after a, and equal/concurrent are symmetric', () => {
    fc.assert(fc.property(clock, clock, (a, b) => compare(b, a) === CONVERSE[compare(a, b)]), RUNS);
  });

  it('says a clock is equal to itself and to a copy with explicit zero entries', () => {
    fc.assert(
      fc.property(clock, (a) => {
        expect(compare(a, a)).toBe('equal');
        expect(compare(a, { ...a, zzz: 0 })).toBe('equal');
        expect(compare(normalized(a), a)).toBe('equal');
      }),
      RUNS,
    );
  });

  it('is transitive for before', () => {
    fc.assert(
      fc.property(clock, clock, clock, (a, b, c) => {
        fc.pre(compare(a, b) === 'before' && compare(b, c) === 'before');
        expect(compare(a, c)).toBe('before');
      }),
      { numRuns: 200 },
    );
  });

  it('orders the empty clock before any clock with a positive entry', () => {
    fc.assert(
      fc.property(clock, (a) => {
        const expected = Object.values(a).some((v) => v > 0) ? 'before' : 'equal';
        expect(compare(EMPTY_CLOCK, a)).toBe(expected);
      }),
      RUNS,
    );
  });
});

describe('merge', () => {
  it('is after-or-equal both of its inputs', () => {
    fc.assert(fc.property(clock, clock, (a, b) => dominates(merge(a, b), a) && dominates(merge(a, b), b)), RUNS);
  });

  it('is the least upper bound: every upper bound of a and b includes it, and each entry comes from a or b', () => {
    fc.assert(
      fc.property(clock, clock, clock, (a, b, extra) => {
        // An arbitrary upper bound of a and b, built without merge().
        const upper: Record<string, number> = {};
        for (const node of new Set([...Object.keys(a), ...Object.keys(b), ...Object.keys(extra)])) {
          upper[node] = Math.max(entry(a, node), entry(b, node)) + entry(extra, node);
        }
        expect(dominates(upper, merge(a, b))).toBe(true);
        for (const [node, value] of Object.entries(merge(a, b))) {
          expect(value === entry(a, node) || value === entry(b, node)).toBe(true);
        }
      }),
      RUNS,
    );
  });

  it('is commutative, associative and idempotent', () => {
    fc.assert(
      fc.property(clock, clock, clock, (a, b, c) => {
        expect(normalized(merge(a, b))).toEqual(normalized(merge(b, a)));
        expect(normalized(merge(merge(a, b), c))).toEqual(normalized(merge(a, merge(b, c))));
        expect(normalized(merge(a, a))).toEqual(normalized(a));
      }),
      RUNS,
    );
  });

  it('returns b exactly when a is before or equal to b', () => {
    fc.assert(
      fc.property(clock, clock, (a, b) => {
        const absorbed = ['before', 'equal'].includes(compare(a, b));
        expect(compare(merge(a, b), b) === 'equal').toBe(absorbed);
      }),
      RUNS,
    );
  });

  it('leaves its inputs unchanged', () => {
    fc.assert(
      fc.property(clock, clock, (a, b) => {
        const before = [JSON.stringify(a), JSON.stringify(b)];
        merge(a, b);
        expect([JSON.stringify(a), JSON.stringify(b)]).toEqual(before);
      }),
      RUNS,
    );
  });
});

describe('deltaSince', () => {
  it('merged into the base gives the merge of both: a peer that knows base and receives the delta knows everything', () => {
    fc.assert(
      fc.property(clock, clock, (a, base) => {
        expect(normalized(merge(base, deltaSince(a, base)))).toEqual(normalized(merge(a, base)));
      }),
      RUNS,
    );
  });

  it('carries only entries that are greater than the base, at their value in the clock', () => {
    fc.assert(
      fc.property(clock, clock, (a, base) => {
        for (const [node, value] of Object.entries(deltaSince(a, base))) {
          expect(value).toBe(entry(a, node));
          expect(value).toBeGreaterThan(entry(base, node));
        }
        for (const node of Object.keys(a)) {
          if (entry(a, node) > entry(base, node)) expect(deltaSince(a, base)[node]).toBe(entry(a, node));
        }
      }),
      RUNS,
    );
  });

  it('is empty exactly when the base already includes the clock', () => {
    fc.assert(
      fc.property(clock, clock, (a, base) => {
        const empty = Object.keys(deltaSince(a, base)).length === 0;
        expect(empty).toBe(dominates(base, a));
      }),
      RUNS,
    );
  });
});

describe('dots', () => {
  it('withDot adds the event and nothing else: the result covers the dot and is after-or-equal the clock', () => {
    fc.assert(
      fc.property(clock, dot, (c, d) => {
        const next = withDot(c, d);
        expect(covers(next, d)).toBe(true);
        expect(dominates(next, c)).toBe(true);
        expect(normalized(next)).toEqual(normalized(merge(c, { [d.node]: d.counter })));
      }),
      RUNS,
    );
  });

  it('withDot returns the same clock when the dot is already covered', () => {
    fc.assert(
      fc.property(clock, dot, (c, d) => {
        fc.pre(covers(c, d));
        expect(withDot(c, d)).toBe(c);
      }),
      { numRuns: 200 },
    );
  });

  it('covers exactly when the clock entry reaches the counter', () => {
    fc.assert(fc.property(clock, dot, (c, d) => covers(c, d) === entry(c, d.node) >= d.counter), RUNS);
  });

  it('compareDots is a total order consistent with equality', () => {
    fc.assert(
      fc.property(dot, dot, dot, (x, y, z) => {
        expect(Math.sign(compareDots(x, y)) + Math.sign(compareDots(y, x))).toBe(0);
        expect(compareDots(x, y) === 0).toBe(x.node === y.node && x.counter === y.counter);
        if (compareDots(x, y) < 0 && compareDots(y, z) < 0) expect(compareDots(x, z)).toBeLessThan(0);
      }),
      RUNS,
    );
  });

  it('dotKey names distinct dots distinctly, even when node ids contain the separator', () => {
    const anyDot = fc.record({ node: fc.string({ maxLength: 6, unit: fc.constantFrom('a', ':', '1') }), counter: fc.nat({ max: 20 }) });
    fc.assert(
      fc.property(anyDot, anyDot, (x, y) => {
        const same = x.node === y.node && x.counter === y.counter;
        expect(dotKey(x) === dotKey(y)).toBe(same);
      }),
      RUNS,
    );
  });
});
