import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Awareness } from '../src/core/awareness.js';
import { DEFAULT_CONFIG } from '../src/core/config.js';

describe('Lifeguard awareness', () => {
  it('starts healthy and then leaves timeouts unscaled', () => {
    const awareness = new Awareness(DEFAULT_CONFIG.awarenessMaxMultiplier);
    expect(awareness.score).toBe(0);
    expect(awareness.scaleTimeout(200)).toBe(200);
  });

  it('scales a timeout by (score + 1)', () => {
    const awareness = new Awareness(8);
    awareness.applyDelta(1);
    expect(awareness.scaleTimeout(200)).toBe(400);
    awareness.applyDelta(2);
    expect(awareness.scaleTimeout(80)).toBe(320);
    awareness.applyDelta(-1);
    expect(awareness.scaleTimeout(80)).toBe(240);
  });

  it('never goes below healthy however many successes arrive', () => {
    const awareness = new Awareness(8);
    awareness.applyDelta(2);
    awareness.applyDelta(-5);
    expect(awareness.score).toBe(0);
    expect(awareness.scaleTimeout(200)).toBe(200);
  });

  it('stretches a timeout at most (1 + awarenessMaxMultiplier) times', () => {
    const awareness = new Awareness(8);
    for (let i = 0; i < 50; i++) awareness.applyDelta(1);
    expect(awareness.score).toBe(8);
    expect(awareness.scaleTimeout(200)).toBe(1800);
  });

  it('keeps the score in [0, max] and the scale equal to score + 1 for any sequence of deltas', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 20 }), fc.array(fc.integer({ min: -5, max: 5 }), { maxLength: 60 }), (max, deltas) => {
        const awareness = new Awareness(max);
        let expected = 0;
        for (const delta of deltas) {
          awareness.applyDelta(delta);
          expected = Math.min(max, Math.max(0, expected + delta));
          expect(awareness.score).toBe(expected);
          expect(awareness.scaleTimeout(100)).toBe(100 * (expected + 1));
          expect(awareness.scaleTimeout(100)).toBeLessThanOrEqual(100 * (max + 1));
        }
      }),
      { numRuns: 300 },
    );
  });
});
