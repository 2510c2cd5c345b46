import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { RenderThrottle } from '../src/ui/render-throttle.js';

describe('RenderThrottle', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  /** A throttle on the fake clock whose every refresh takes `costMs` of script, and `frameMs` to paint, 16 ms later. */
  function throttled(costMs: number, frameMs?: number) {
    const flushedAt: number[] = [];
    const throttle = new RenderThrottle<string>(
      () => {
        flushedAt.push(Date.now());
        vi.setSystemTime(Date.now() + costMs); // The refresh's own work moves the clock on.
      },
      {
        intervalMs: 100,
        now: () => Date.now(),
        measureFrame: frameMs === undefined ? undefined : (done) => void setTimeout(() => done(frameMs), 16),
      },
    );
    return { throttle, flushedAt };
  }

  it('turns a burst of changes into one refresh, and keeps cheap refreshes 100 ms apart', () => {
    const { throttle, flushedAt } = throttled(1);
    for (let i = 0; i < 1_000; i++) throttle.note('write');
    vi.advanceTimersByTime(1);
    expect(flushedAt).toHaveLength(1);
    for (let t = 0; t < 1_000; t += 10) {
      throttle.note('write');
      vi.advanceTimersByTime(10);
    }
    const gaps = flushedAt.slice(1).map((at, i) => at - flushedAt[i]!);
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(100);
    expect(flushedAt.length).toBeGreaterThanOrEqual(8);
  });

  /** A change every 10 ms for 5 s of refreshes costing 40 ms in all: they must end up ~400 ms apart. */
  function expectTenthOfTheThread({ throttle, flushedAt }: ReturnType<typeof throttled>) {
    for (let t = 0; t < 5_000; t += 10) {
      throttle.note('write');
      vi.advanceTimersByTime(10);
    }
    const gaps = flushedAt.slice(2).map((at, i) => at - flushedAt[i + 1]!);
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(400);
    expect(throttle.spacingMs).toBeGreaterThanOrEqual(400);
    expect(throttle.spacingMs).toBeLessThan(500);
  }

  it('spaces costly refreshes out so they take at most a tenth of the main thread', () => {
    expectTenthOfTheThread(throttled(40));
  });

  it('counts the frame that paints a refresh as part of its cost', () => {
    // 4 ms of script, 36 ms of style, layout and paint: 40 ms a refresh, so 400 ms apart.
    expectTenthOfTheThread(throttled(4, 36));
  });

  it('still refreshes every two seconds however costly a refresh is', () => {
    const { throttle, flushedAt } = throttled(1_000);
    for (let t = 0; t < 20_000; t += 50) {
      throttle.note('write');
      vi.advanceTimersByTime(50);
    }
    const gaps = flushedAt.slice(2).map((at, i) => at - flushedAt[i + 1]!);
    expect(Math.max(...gaps)).toBeLessThanOrEqual(2_000 + 1_000 + 50);
  });
});
