/**
 * The core's time and randomness ports on a real browser (or Node): a monotone clock, the wall
 * clock, timers a hidden tab does not throttle, and cryptographic randomness. Only the simulator
 * needs them seeded.
 */
import type { Random, Scheduler, TimerHandle } from '../core/ports.js';

/**
 * Where timers come from. A hidden Chromium tab runs its timers only on 1 s wake-ups (measured
 * with bench/hidden-tabs.ts: a single 20 ms setTimeout took 0.79-1.0 s), which stretched a
 * 200 ms probe interval to a second and a crashed peer's detection by hidden observers to 4.5 s.
 * Timers in a dedicated worker are not throttled (eight chained 10 ms timers: 82 ms hidden,
 * 82 ms visible) and neither is the message that carries their firing back to the page (20 ms
 * ticks arrived at most 21 ms apart), so the page's timers are set in a worker. A frozen page's
 * worker is frozen with it, which is what a frozen node needs. Where a worker cannot start (no
 * Worker, a CSP that forbids blob: workers), the page's own timers are used.
 */
export interface TimerSource {
  set(delayMs: number, fn: () => void): TimerHandle;
}

/** The page's own setTimeout: throttled in a hidden tab. */
export const pageTimers: TimerSource = {
  set(delayMs, fn) {
    const handle = setTimeout(fn, Math.max(0, delayMs));
    return { cancel: () => clearTimeout(handle) };
  },
};

/** The worker's whole program: set and clear timers by id, post the id back when one fires. */
const TIMER_WORKER_SOURCE = `
const timers = new Map();
onmessage = (event) => {
  const [id, delayMs] = event.data;
  if (delayMs < 0) { clearTimeout(timers.get(id)); timers.delete(id); return; }
  timers.set(id, setTimeout(() => { timers.delete(id); postMessage(id); }, delayMs));
};
`;

/** Timers kept in a dedicated worker; undefined where a worker cannot be started. */
export function workerTimers(): TimerSource | undefined {
  if (typeof Worker === 'undefined' || typeof Blob === 'undefined' || typeof URL.createObjectURL !== 'function') return undefined;
  let worker: Worker;
  try {
    const url = URL.createObjectURL(new Blob([TIMER_WORKER_SOURCE], { type: 'text/javascript' }));
    worker = new Worker(url, { name: 'engram-timers' });
    URL.revokeObjectURL(url);
  } catch {
    return undefined;
  }
  const pending = new Map<number, () => void>();
  let nextId = 1;
  worker.onmessage = (event: MessageEvent<number>) => {
    const fn = pending.get(event.data);
    if (fn === undefined) return; // cancelled after the worker had already fired it
    pending.delete(event.data);
    fn();
  };
  return {
    set(delayMs, fn) {
      const id = nextId++;
      pending.set(id, fn);
      worker.postMessage([id, Math.max(0, delayMs)]);
      return {
        cancel: () => {
          if (pending.delete(id)) worker.postMessage([id, -1]);
        },
      };
    },
  };
}

let timers: TimerSource | undefined;

export const browserScheduler: Scheduler = {
  now: () => performance.now(),
  // The device's clock: skewed or stepped back by NTP at times, which the hybrid clock absorbs.
  wallNow: () => Date.now(),
  setTimer(delayMs: number, fn: () => void): TimerHandle {
    // Started on first use, so importing this module (in Node, in a test) starts nothing.
    timers ??= workerTimers() ?? pageTimers;
    return timers.set(delayMs, fn);
  },
};

/** Randomness from crypto.getRandomValues, drawn in blocks to keep the hot path cheap. */
export class CryptoRandom implements Random {
  private readonly block = new Uint32Array(256);
  private index = this.block.length;

  private word(): number {
    if (this.index >= this.block.length) {
      crypto.getRandomValues(this.block);
      this.index = 0;
    }
    return this.block[this.index++] as number;
  }

  next(): number {
    // 53 random bits, like Math.random's resolution.
    return ((this.word() >>> 5) * 67108864 + (this.word() >>> 6)) / 9007199254740992;
  }

  int(maxExclusive: number): number {
    if (maxExclusive <= 0) throw new RangeError('int() needs a positive bound');
    return Math.floor(this.next() * maxExclusive);
  }
}
