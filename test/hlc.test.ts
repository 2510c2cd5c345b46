import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { HLC_TICK_MS, HybridClock, WALL_CLOCK_EPOCH_MS, wallClockMs } from '../src/core/hlc.js';

const EPOCH = Date.UTC(2026, 11, 2);

/** A wall clock that follows a script: each call returns the next reading (it may stand still or step back). */
function scripted(readings: readonly number[]): () => number {
  let i = 0;
  return () => readings[Math.min(i++, readings.length - 1)] as number;
}

/** One step of a node's life: a local event at some wall reading, or a remote timestamp received. */
const step = fc.oneof(
  fc.record({ kind: fc.constant('local' as const), wallOffsetMs: fc.integer({ min: -60_000, max: 60_000 }) }),
  fc.record({ kind: fc.constant('receive' as const), remoteOffsetMs: fc.double({ min: -600_000, max: 600_000, noNaN: true }) }),
);

describe('hybrid logical clock', () => {
  it('is monotone: every timestamp is greater than every one issued or observed before, whatever the wall clock does', () => {
    fc.assert(
      fc.property(fc.array(step, { maxLength: 200 }), (steps) => {
        let wall = EPOCH;
        const clock = new HybridClock(() => wall);
        let highest = -Infinity;
        for (const s of steps) {
          if (s.kind === 'receive') {
            const remote = EPOCH + s.remoteOffsetMs;
            clock.observe(remote);
            highest = Math.max(highest, remote);
          } else {
            wall = EPOCH + s.wallOffsetMs;
            const t = clock.now();
            expect(t).toBeGreaterThan(highest);
            highest = t;
          }
        }
      }),
      { numRuns: 300 },
    );
  });

  it('send/receive: a timestamp issued after observing a remote one is greater, whatever the skew between the two clocks', () => {
    fc.assert(
      fc.property(fc.integer({ min: -3_600_000, max: 3_600_000 }), fc.integer({ min: 1, max: 50 }), (skewMs, burst) => {
        const ahead = new HybridClock(() => EPOCH + Math.max(0, skewMs));
        const behind = new HybridClock(() => EPOCH + Math.min(0, skewMs));
        let sent = 0;
        for (let i = 0; i < burst; i++) sent = ahead.now();
        behind.observe(sent);
        const reply = behind.now();
        expect(reply).toBeGreaterThan(sent);
        ahead.observe(reply);
        expect(ahead.now()).toBeGreaterThan(reply);
      }),
    );
  });

  it('follows the wall clock while nothing from ahead was seen: floor(wall), then one logical tick per event within a millisecond', () => {
    const clock = new HybridClock(scripted([EPOCH + 0.4, EPOCH + 0.9, EPOCH + 0.99, EPOCH + 7.2]));
    expect(clock.now()).toBe(EPOCH);
    expect(clock.now()).toBe(EPOCH + HLC_TICK_MS);
    expect(clock.now()).toBe(EPOCH + 2 * HLC_TICK_MS);
    expect(clock.now()).toBe(EPOCH + 7);
  });

  it('does not step back with the wall clock (an NTP correction): it counts on from the last timestamp', () => {
    const clock = new HybridClock(scripted([EPOCH + 5_000, EPOCH]));
    expect(clock.now()).toBe(EPOCH + 5_000);
    expect(clock.now()).toBe(EPOCH + 5_000 + HLC_TICK_MS);
  });

  it('steps are exact next to epoch-ms values: 1,024 ticks make exactly one millisecond', () => {
    const clock = new HybridClock(() => EPOCH);
    let t = 0;
    for (let i = 0; i <= 1_024; i++) t = clock.now();
    expect(t).toBe(EPOCH + 1);
    expect(wallClockMs(t)).toBe(EPOCH + 1);
  });

  it('ignores non-finite readings and remote values (a broken wall clock cannot stall it)', () => {
    const clock = new HybridClock(() => Number.NaN);
    clock.observe(Number.POSITIVE_INFINITY);
    const first = clock.now();
    expect(first).toBe(HLC_TICK_MS);
    expect(clock.now()).toBe(2 * HLC_TICK_MS);
  });

  it('tells wall-clock times from an older store\'s monotone readings', () => {
    expect(wallClockMs(EPOCH + 3 * HLC_TICK_MS)).toBe(EPOCH);
    expect(wallClockMs(123_456.789)).toBeUndefined();
    expect(wallClockMs(WALL_CLOCK_EPOCH_MS - 1)).toBeUndefined();
    expect(wallClockMs(WALL_CLOCK_EPOCH_MS)).toBe(WALL_CLOCK_EPOCH_MS);
  });
});
