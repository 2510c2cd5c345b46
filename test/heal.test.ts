import { describe, expect, it } from 'vitest';
import { DEFAULT_CONFIG } from '../src/core/config.js';
import { Healer, type HealReport } from '../src/core/heal.js';
import { MerkleTree } from '../src/core/merkle.js';
import { SeededRandom } from '../src/core/random.js';
import { VirtualScheduler } from '../src/sim/scheduler.js';

/** A healer whose messages go nowhere: what a peer whose link is still reconnecting looks like. */
function unansweredHealer() {
  const scheduler = new VirtualScheduler();
  const finished: HealReport[] = [];
  const sent: string[] = [];
  const healer = new Healer({
    self: 'a',
    config: DEFAULT_CONFIG,
    scheduler,
    random: new SeededRandom(1),
    tree: new MerkleTree({ arity: DEFAULT_CONFIG.merkleArity, maxDepth: DEFAULT_CONFIG.merkleMaxDepth }),
    record: () => undefined,
    send: (_peer, message) => {
      sent.push(message.type);
      return 1;
    },
    apply: async () => [],
    generationLogs: () => [],
    learnGenerations: () => undefined,
    generationEntry: () => undefined,
    progress: () => undefined,
    finished: (report) => void finished.push(report),
  });
  return { scheduler, healer, finished, sent };
}

describe('Healer timeouts', () => {
  it('gives up on an unanswered heal-open after healOpenTimeoutMs, not a whole step, and is free for the next peer', () => {
    const { scheduler, healer, finished, sent } = unansweredHealer();
    expect(healer.open('b')).toBe(true);
    expect(sent).toEqual(['heal-open']);
    scheduler.runUntil(DEFAULT_CONFIG.healOpenTimeoutMs - 1);
    expect(healer.busy).toBe(true);
    scheduler.runUntil(DEFAULT_CONFIG.healOpenTimeoutMs);
    expect(finished.map((report) => [report.peer, report.outcome, report.finishedAt - report.startedAt])).toEqual([['b', 'aborted', DEFAULT_CONFIG.healOpenTimeoutMs]]);
    expect(healer.busy).toBe(false);
    expect(healer.open('c')).toBe(true);
  });
});
