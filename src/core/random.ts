/**
 * Seeded randomness for the core and the simulator, on pure-rand's xoroshiro128+ (fast, small
 * state, jumpable), so that one seed replays a whole cluster run.
 */
import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';
import { uniformInt } from 'pure-rand/distribution/uniformInt';
import type { Random } from './ports.js';

export class SeededRandom implements Random {
  private readonly generator;

  constructor(seed: number) {
    this.generator = xoroshiro128plus(seed | 0);
  }

  next(): number {
    // 2^-53 steps: two draws give 53 uniformly random bits, the resolution of a double.
    const high = uniformInt(this.generator, 0, (1 << 26) - 1);
    const low = uniformInt(this.generator, 0, (1 << 27) - 1);
    return (high * 134217728 + low) / 9007199254740992;
  }

  int(maxExclusive: number): number {
    if (maxExclusive <= 0) throw new RangeError('int() needs a positive bound');
    return uniformInt(this.generator, 0, maxExclusive - 1);
  }

  /** A new, independent stream derived from this one (for giving each simulated node its own). */
  fork(): SeededRandom {
    return new SeededRandom(this.int(0x7fffffff));
  }
}

/** Fisher-Yates with the given randomness; returns a new array. */
export function shuffled<T>(items: readonly T[], random: Random): T[] {
  const out = items.slice();
  for (let i = out.length - 1; i > 0; i--) {
    const j = random.int(i + 1);
    const tmp = out[i] as T;
    out[i] = out[j] as T;
    out[j] = tmp;
  }
  return out;
}
