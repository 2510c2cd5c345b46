import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { DEFAULT_CONFIG } from '../src/core/config.js';
import { Suspicion, suspicionBoundsMs, suspicionTimeoutMs } from '../src/core/suspicion.js';
import { VirtualScheduler } from '../src/sim/scheduler.js';

function suspicionAt(expectedConfirmations: number, minMs = 1_000, maxMs = 6_000) {
  const scheduler = new VirtualScheduler();
  const fired: { at: number; confirmations: number }[] = [];
  const suspicion = new Suspicion({
    from: 'a',
    expectedConfirmations,
    minMs,
    maxMs,
    scheduler,
    onTimeout: (confirmations) => fired.push({ at: scheduler.now(), confirmations }),
  });
  return { scheduler, suspicion, fired };
}

describe('suspicion bounds', () => {
  it('lasts suspicionMult probe intervals at least in clusters of up to ten members', () => {
    for (const n of [0, 1, 5, 10]) {
      expect(suspicionBoundsMs(DEFAULT_CONFIG, n).minMs).toBe(4 * 200);
    }
  });

  it('grows with log10 of the cluster size beyond ten members, and the maximum is suspicionMaxTimeoutMult times the minimum', () => {
    const bounds = suspicionBoundsMs(DEFAULT_CONFIG, 1_000);
    expect(bounds.minMs).toBeCloseTo(4 * 3 * 200, 6);
    expect(bounds.maxMs).toBeCloseTo(6 * 4 * 3 * 200, 6);
  });
});

describe('suspicion timeout', () => {
  it('is the maximum with no confirmation and the minimum with K of them', () => {
    expect(suspicionTimeoutMs(0, 3, 1_000, 6_000)).toBe(6_000);
    expect(suspicionTimeoutMs(3, 3, 1_000, 6_000)).toBe(1_000);
  });

  it('falls logarithmically: the first confirmation takes off the most', () => {
    // log(2)/log(4) = 1/2 of the range for the first confirmation.
    expect(suspicionTimeoutMs(1, 3, 1_000, 6_000)).toBeCloseTo(3_500, 6);
    const first = 6_000 - suspicionTimeoutMs(1, 3, 1_000, 6_000);
    const second = suspicionTimeoutMs(1, 3, 1_000, 6_000) - suspicionTimeoutMs(2, 3, 1_000, 6_000);
    expect(first).toBeGreaterThan(second);
  });

  it('is the minimum when no confirmation is expected', () => {
    expect(suspicionTimeoutMs(0, 0, 1_000, 6_000)).toBe(1_000);
  });

  it('stays within [min, max] and never grows with more confirmations', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 10 }),
        fc.integer({ min: 0, max: 12 }),
        fc.integer({ min: 1, max: 10_000 }),
        fc.integer({ min: 1, max: 10 }),
        (expected, confirmations, minMs, maxMult) => {
          const maxMs = minMs * maxMult;
          const timeout = suspicionTimeoutMs(confirmations, expected, minMs, maxMs);
          expect(timeout).toBeGreaterThanOrEqual(minMs);
          expect(timeout).toBeLessThanOrEqual(maxMs);
          expect(suspicionTimeoutMs(confirmations + 1, expected, minMs, maxMs)).toBeLessThanOrEqual(timeout);
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe('Suspicion timer', () => {
  it('fires at the maximum when nobody confirms', () => {
    const { scheduler, fired } = suspicionAt(3);
    scheduler.runUntil(5_999);
    expect(fired).toEqual([]);
    scheduler.runUntil(6_000);
    expect(fired).toEqual([{ at: 6_000, confirmations: 0 }]);
  });

  it('shrinks with each independent confirmation, measured from the start of the suspicion', () => {
    const { scheduler, suspicion, fired } = suspicionAt(3);
    scheduler.runUntil(500);
    expect(suspicion.confirm('b')).toBe(true);
    expect(suspicion.deadlineAt).toBeCloseTo(3_500, 6);
    expect(suspicion.confirm('c')).toBe(true);
    expect(suspicion.confirm('d')).toBe(true);
    expect(suspicion.deadlineAt).toBe(1_000);
    scheduler.runUntil(10_000);
    expect(fired).toEqual([{ at: 1_000, confirmations: 3 }]);
  });

  it('does not count the first suspecter or a repeated suspecter', () => {
    const { scheduler, suspicion, fired } = suspicionAt(3);
    expect(suspicion.confirm('a')).toBe(false);
    expect(suspicion.confirm('b')).toBe(true);
    expect(suspicion.confirm('b')).toBe(false);
    expect(suspicion.confirmations).toBe(1);
    scheduler.runUntil(10_000);
    expect(fired.map((f) => f.at)).toEqual([3_500]);
  });

  it('ignores confirmations beyond K, so they are not gossiped again', () => {
    const { suspicion } = suspicionAt(2);
    expect(suspicion.confirm('b')).toBe(true);
    expect(suspicion.confirm('c')).toBe(true);
    expect(suspicion.confirm('d')).toBe(false);
    expect(suspicion.confirmations).toBe(2);
  });

  it('fires at once when a confirmation arrives after the shortened timeout has already passed', () => {
    const { scheduler, suspicion, fired } = suspicionAt(1);
    scheduler.runUntil(2_000);
    suspicion.confirm('b');
    scheduler.step();
    expect(fired).toEqual([{ at: 2_000, confirmations: 1 }]);
  });

  it('fires exactly once however many confirmations arrive', () => {
    const { scheduler, suspicion, fired } = suspicionAt(5);
    for (const from of ['b', 'c', 'd', 'e', 'f']) {
      scheduler.runUntil(scheduler.now() + 100);
      suspicion.confirm(from);
    }
    scheduler.runUntil(100_000);
    expect(fired).toHaveLength(1);
  });

  it('never fires once cancelled', () => {
    const { scheduler, suspicion, fired } = suspicionAt(3);
    suspicion.confirm('b');
    suspicion.cancel();
    scheduler.runUntil(100_000);
    expect(fired).toEqual([]);
  });
});

describe('a suspicion timer that fires late', () => {
  /** A clock whose timers fire `lateMs` after they were due, as in a tab busy with a long task. */
  function lateScheduler(lateMs: number) {
    let now = 0;
    const due: { at: number; fn: () => void }[] = [];
    return {
      now: () => now,
      setTimer: (delayMs: number, fn: () => void) => {
        const timer = { at: now + delayMs, fn };
        due.push(timer);
        return { cancel: () => void due.splice(due.indexOf(timer), 1) };
      },
      /** Fires the next timer, `lateMs` after it was due. */
      fireNext: () => {
        due.sort((a, b) => a.at - b.at);
        const timer = due.shift();
        if (!timer) return false;
        now = Math.max(now, timer.at + lateMs);
        timer.fn();
        return true;
      },
    };
  }

  it('waits once more for lateGraceMs before the verdict, so a refutation queued behind it can be read', () => {
    const scheduler = lateScheduler(500);
    const fired: number[] = [];
    new Suspicion({ from: 'a', expectedConfirmations: 0, minMs: 1_000, maxMs: 1_000, scheduler, lateGraceMs: 80, onTimeout: () => fired.push(scheduler.now()) });
    scheduler.fireNext();
    expect(fired).toEqual([]);
    scheduler.fireNext();
    expect(fired).toHaveLength(1);
  });

  it('on time, or without lateGraceMs, gives its verdict at once', () => {
    for (const [lateMs, lateGraceMs] of [[0, 80], [500, undefined]] as const) {
      const scheduler = lateScheduler(lateMs);
      const fired: number[] = [];
      new Suspicion({ from: 'a', expectedConfirmations: 0, minMs: 1_000, maxMs: 1_000, scheduler, lateGraceMs, onTimeout: () => fired.push(scheduler.now()) });
      scheduler.fireNext();
      expect(fired).toHaveLength(1);
    }
  });
});
