/**
 * The hostile-peer fuzz as a test of record (issue 10, item 4): seeded runs of the `hostile`
 * scenario, each judged by the checker on the honest nodes only. A failure names the seed and the
 * command that replays it. ENGRAM_HOSTILE_SEEDS (default 100) sets how many seeds run,
 * ENGRAM_HOSTILE_FIRST_SEED (default 1) the first, ENGRAM_HOSTILE_ATTACK_MS (default 3,000) how
 * long each attack lasts: short here so 100 seeds take under a minute; the CLI's default is five
 * virtual minutes (`npm run sim -- --scenario hostile --seed N`).
 *
 * The seeds run without the lies no defence stops yet (hostile.ts openLies: claims about an
 * honest writer's dots the liar never saw, laundered through an honest overwrite); the last test
 * pins the seeds on which those still lose a write, so the checker is seen to catch them and the
 * test turns red (to be flipped) the day they are fixed.
 *
 * A second open case came with frontier lies (core/frontier.ts), once the fuzz sent them: a
 * hostile version backdated past the tombstone horizon overwrites honest edits, and a peer whose
 * frontier covers it while it holds nothing of the record makes an honest replica drop it as
 * obsolete, and the honest edits it stood for with it (diagnosed on seed 6: n4:182, written at
 * −1.7e12 ms, covering n1:14, n2:13 and n3:9, dropped on n1 at 10.1 s). Honest replicas never
 * produce such a timestamp (a hybrid clock is past everything its writer saw), but refusing it
 * per receiver would make replicas disagree; closing it needs its own design. Its seeds are
 * pinned below and left out of the 100.
 */
import { describe, expect, it } from 'vitest';
import { describeHostile, runHostileScenario, type HostileVerdict } from '../src/sim/hostile-scenario.js';

const SEEDS = Number(process.env.ENGRAM_HOSTILE_SEEDS ?? 100);
const FIRST_SEED = Number(process.env.ENGRAM_HOSTILE_FIRST_SEED ?? 1);
const ATTACK_MS = Number(process.env.ENGRAM_HOSTILE_ATTACK_MS ?? 3_000);
/** Seeds (of 1-110, at the default attack length) on which the backdated-overwrite case loses writes; 6 diagnosed, the others not yet. */
const BACKDATED_OPEN_SEEDS = [6, 9, 13, 48];
/** Seeds on which the laundered-claim case (open lies) loses writes at the default attack length. */
const LAUNDERED_OPEN_SEEDS = [12, 17, 36];

function replay(verdict: HostileVerdict, openLies = false): string {
  return `replay: npm run sim -- --scenario hostile --seed ${verdict.seed} --attack-ms ${verdict.attackMs} --open-lies ${openLies ? 1 : 0}\n${describeHostile(verdict)}`;
}

describe('scenario hostile: authenticated members send random well-formed lies of every message type while partitions come and go', () => {
  it(`loses no acknowledged honest write, converges among the honest nodes, holds no honest member down, and lets no exception escape (${SEEDS} seeds)`, async () => {
    const totals = { acknowledged: 0, lies: 0, refused: 0, cuts: 0 };
    const shapes = new Set<string>();
    let run = 0;
    for (let seed = FIRST_SEED; run < SEEDS; seed++) {
      if (ATTACK_MS === 3_000 && BACKDATED_OPEN_SEEDS.includes(seed)) continue;
      run += 1;
      const verdict = await runHostileScenario({ seed, attackMs: ATTACK_MS, openLies: false });
      expect(verdict.escaped, replay(verdict)).toEqual([]);
      expect(verdict.check.lost, replay(verdict)).toEqual([]);
      expect(verdict.check.converged, replay(verdict)).toBe(true);
      expect(verdict.heldDown, replay(verdict)).toEqual([]);
      expect(verdict.passed, replay(verdict)).toBe(true);
      totals.acknowledged += verdict.check.acknowledged;
      totals.lies += verdict.fuzz.added;
      totals.refused += verdict.honestStats.refusedVersions;
      totals.cuts += verdict.cuts;
      for (const shape of Object.keys(verdict.fuzz.byShape)) shapes.add(shape);
    }
    // The run must have had something to judge: writes, lies of every type, defences that fired, partitions.
    expect(totals.acknowledged).toBeGreaterThan(100 * SEEDS);
    expect(totals.lies).toBeGreaterThan(20 * SEEDS);
    expect(totals.refused).toBeGreaterThan(0);
    expect(totals.cuts).toBeGreaterThan(0);
    if (SEEDS >= 20) expect([...shapes].sort()).toEqual(['ack', 'heal-abort', 'heal-done', 'heal-keys', 'heal-level', 'heal-open', 'heal-records', 'heal-reply', 'heal-want', 'nack', 'ping', 'ping-req', 'replicate', 'sync']);
  }, 300_000);

  it(`open (issue 10): a claim about an honest writer's dots that the liar never saw, laundered through an honest overwrite, still loses a write on seeds ${LAUNDERED_OPEN_SEEDS.join(', ')} (flip this when fixed)`, async () => {
    for (const seed of LAUNDERED_OPEN_SEEDS) {
      const verdict = await runHostileScenario({ seed, attackMs: ATTACK_MS, openLies: true });
      // Everything else holds on these seeds: the loss is the open case alone.
      expect(verdict.escaped, replay(verdict, true)).toEqual([]);
      expect(verdict.check.converged, replay(verdict, true)).toBe(true);
      expect(verdict.heldDown, replay(verdict, true)).toEqual([]);
      expect(verdict.check.lostWrites, replay(verdict, true)).toBeGreaterThan(0);
    }
  }, 60_000);

  it(`open (issue 10): a hostile overwrite backdated past the horizon, dropped on a lying frontier's word, takes the honest edits it covered with it on seeds ${BACKDATED_OPEN_SEEDS.join(', ')} (flip this when fixed)`, async () => {
    for (const seed of BACKDATED_OPEN_SEEDS) {
      const verdict = await runHostileScenario({ seed, attackMs: ATTACK_MS, openLies: false });
      expect(verdict.escaped, replay(verdict)).toEqual([]);
      expect(verdict.heldDown, replay(verdict)).toEqual([]);
      expect(verdict.check.lostWrites, replay(verdict)).toBeGreaterThan(0);
    }
  }, 60_000);
});
