/**
 * Hybrid logical clock (Kulkarni, Demirbas et al., "Logical Physical Clocks", 2014): the
 * timestamps versions carry as `createdAt` / `writtenAt`.
 *
 * A timestamp is one number: wall-clock epoch milliseconds plus a logical counter in 1/1024 ms
 * steps, i.e. `l + c / 1024` for the paper's (l, c). Packed like this it stays a plain f64, so the
 * wire format (f64 fields), the storage format (structured clone) and every digest are unchanged,
 * and `Math.floor(t)` is the wall-clock time a person is shown. Below 2^42 ms (the year 2109) an
 * f64 resolves 2^-11 ms, so every step is exact. Over 1,023 events inside one millisecond the
 * counter carries into the next millisecond: still monotone, only ahead of the wall by the burst.
 *
 * The laws (test/hlc.test.ts):
 *  - monotone: every timestamp this clock issues is greater than every one it issued or observed
 *    before, whatever the wall clock does (it may stand still or step backwards);
 *  - send/receive: after observing a remote timestamp r, the next one issued is > r, so a version
 *    written after seeing another always carries a larger timestamp, whatever the clocks' skew;
 *  - close to the wall: with nothing observed from ahead, the timestamp is floor(wall) + c/1024.
 *
 * Records written by older versions of the store carry performance.now() readings (ms since that
 * page loaded) instead. They are told apart by size: anything below WALL_CLOCK_EPOCH_MS cannot be
 * a wall-clock time of this software's life, so it is shown as "time unknown" and ranks as older
 * than every real timestamp (which is what it is).
 */

/** One logical step: 2^-10 ms, exactly representable next to any epoch-ms value before 2109. */
export const HLC_TICK_MS = 1 / 1024;

/** 2001-09-09: timestamps below this are monotone-clock readings of an older store, not wall time. */
export const WALL_CLOCK_EPOCH_MS = 1e12;

/** The wall-clock time (epoch ms) of a timestamp, or undefined for an older store's monotone reading. */
export function wallClockMs(timestamp: number): number | undefined {
  return Number.isFinite(timestamp) && timestamp >= WALL_CLOCK_EPOCH_MS ? Math.floor(timestamp) : undefined;
}

/** The hybrid clock of one node. `wallNow` is the platform's wall clock in epoch ms (through the Scheduler port). */
export class HybridClock {
  private latest = 0;

  constructor(private readonly wallNow: () => number) {}

  /** A timestamp for a new local event: greater than everything issued or observed so far. */
  now(): number {
    const wall = Math.floor(this.wallNow());
    this.latest = Number.isFinite(wall) && wall > this.latest ? wall : after(this.latest);
    return this.latest;
  }

  /** Takes in a timestamp seen on a remote version: the next local one will be greater. */
  observe(remote: number): void {
    if (Number.isFinite(remote) && remote > this.latest) this.latest = remote;
  }

  /** The greatest timestamp issued or observed (0 before any). */
  get last(): number {
    return this.latest;
  }
}

/** The next timestamp after `t`: one logical tick, or the next float where a tick would round away. */
function after(t: number): number {
  const next = t + HLC_TICK_MS;
  return next > t ? next : t + Math.abs(t) * Number.EPSILON;
}
