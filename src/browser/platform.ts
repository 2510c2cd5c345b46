/**
 * The core's time and randomness ports on a real browser (or Node): a monotone clock, the wall
 * clock and cryptographic randomness. Only the simulator needs them seeded.
 */
import type { Random, Scheduler, TimerHandle } from '../core/ports.js';

export const browserScheduler: Scheduler = {
  now: () => performance.now(),
  // The device's clock: skewed or stepped back by NTP at times, which the hybrid clock absorbs.
  wallNow: () => Date.now(),
  setTimer(delayMs: number, fn: () => void): TimerHandle {
    const handle = setTimeout(fn, Math.max(0, delayMs));
    return { cancel: () => clearTimeout(handle) };
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
