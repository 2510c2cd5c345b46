/**
 * Deletes forgotten memories for good once that is safe (frontier.ts `collectable`): every so
 * often, the records whose every sibling is a tombstone are checked against this node's frontier
 * and the horizon, and the ones that pass are deleted in one durable commit, which also carries
 * the frontier that justified it (a restart must not forget what made a deletion safe).
 *
 * Only tombstone-only records are looked at, tracked as they are installed, so a sweep over a
 * store of 100K live memories costs nothing; a sweep deletes at most `tombstoneSweepMax` records
 * (one commit, one short task), and the next sweep takes the rest.
 */
import type { EngramConfig } from './config.js';
import { collectable } from './frontier.js';
import type { GroupCommit } from './group-commit.js';
import type { Scheduler, TimerHandle } from './ports.js';
import type { MemoryId, MemoryRecord, VersionVector } from './types.js';

export interface TombstoneCollectorOptions {
  readonly config: EngramConfig;
  readonly scheduler: Scheduler;
  readonly changes: GroupCommit;
  /** This node's frontier, its own entry included. */
  readonly frontier: () => VersionVector;
  /** Epoch ms before which a version is older than the horizon. */
  readonly cutoff: () => number;
  readonly counters: { tombstonesCollected: number };
  readonly stopped: () => boolean;
}

export class TombstoneCollector {
  /** Records whose every sibling is a tombstone. */
  private readonly candidates = new Set<MemoryId>();
  private timer: TimerHandle | undefined;

  constructor(private readonly options: TombstoneCollectorOptions) {}

  /** Keeps the candidate set in step with an installed (or, undefined, deleted) record. */
  track(id: MemoryId, record: MemoryRecord | undefined): void {
    if (record !== undefined && record.siblings.every((sibling) => sibling.deleted)) this.candidates.add(id);
    else this.candidates.delete(id);
  }

  /** Forgotten memories waiting to be collected. */
  get pending(): number {
    return this.candidates.size;
  }

  start(): void {
    this.schedule();
  }

  stop(): void {
    this.timer?.cancel();
    this.timer = undefined;
  }

  /** One sweep now; resolves with how many records it deleted. */
  async sweep(): Promise<number> {
    if (this.candidates.size === 0 || this.options.stopped()) return 0;
    const ids = [...this.candidates];
    return this.options.changes.submit({
      plan: (stage) => {
        const frontier = this.options.frontier();
        const cutoff = this.options.cutoff();
        let deleted = 0;
        for (const id of ids) {
          if (deleted >= this.options.config.tombstoneSweepMax) break;
          const record = stage.record(id);
          if (record === undefined || !collectable(record, frontier, cutoff)) continue;
          stage.remove(id);
          deleted += 1;
        }
        return deleted;
      },
      after: (deleted) => {
        this.options.counters.tombstonesCollected += deleted;
      },
    });
  }

  private schedule(): void {
    this.timer = this.options.scheduler.setTimer(this.options.config.tombstoneSweepMs, () => {
      if (this.options.stopped()) return;
      // A failed commit (a full store) changes nothing; the next sweep tries again.
      void this.sweep()
        .catch(() => 0)
        .then(() => {
          if (!this.options.stopped()) this.schedule();
        });
    });
  }
}
