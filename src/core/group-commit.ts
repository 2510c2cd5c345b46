/**
 * Group commit: every change of a node's durable state goes through one queue, and the changes
 * waiting in it when storage becomes free are committed together, in one atomic storage commit.
 *
 * Why: a durable commit costs the same few milliseconds (an fsync, in IndexedDB with strict
 * durability) whether it carries one record or hundreds. One commit per change capped a browser
 * tab at a few hundred writes a second however many were in flight, and made a heal pay one
 * commit per received batch. With group commit a tab with many writes in flight, or a heal with
 * batches arriving from several peers, pays one commit per round instead.
 *
 * What it keeps from one-change-one-commit:
 * - Order: changes are planned in the order they were submitted, each against the state the
 *   changes before it leave (committed or only staged in the same round), so a write never
 *   misses an earlier one and dot counters stay dense.
 * - Acknowledgement means durable: a change's promise resolves only after the commit that
 *   holds it; if that commit fails, every change in it rejects and none of them took effect
 *   (they were only staged).
 * - Isolation of bad requests: a plan that throws (say, forgetting an unknown memory) rejects
 *   that change alone and leaves nothing in the stage.
 *
 * Plans are synchronous: all the reading and merging happens before the one await on storage,
 * which is also why the node's in-memory state never shows a change that is not yet durable.
 */
import type { MemoryId, MemoryRecord } from './types.js';

/** What a plan sees and changes: the node's records and dot counter as the round so far leaves them. */
export interface Stage {
  record(id: MemoryId): MemoryRecord | undefined;
  put(record: MemoryRecord): void;
  /** Deletes a record (a collected tombstone, an obsolete record: frontier.ts). */
  remove(id: MemoryId): void;
  counter: number;
}

/** A change: `plan` stages it (synchronously; a throw rejects this change only), `after` runs once it is durable and installed. */
export interface Change<T> {
  plan(stage: Stage): T;
  after?(result: T): void;
  /** Commit even if nothing was staged (the node's own state changed). Otherwise a round that staged no record skips storage. */
  readonly persist?: boolean;
}

export interface GroupCommitOptions {
  record(id: MemoryId): MemoryRecord | undefined;
  counter(): number;
  /** Durably commits a round: its records, the ids it deleted and the dot counter after it. Rejects if nothing was committed. */
  commit(records: readonly MemoryRecord[], removed: readonly MemoryId[], counter: number): Promise<void>;
  /** Makes a committed round visible in memory (records, deletions, counter). */
  install(records: readonly MemoryRecord[], removed: readonly MemoryId[], counter: number): void;
  /** A round stops taking changes once it holds this many records (the next round takes the rest). */
  readonly maxRecords: number;
  /** An `after` threw. The change is durable and still resolves; the queue goes on. */
  afterFailed(error: unknown): void;
  /**
   * Runs once a committed round's `after`s have all run, so what they queued can go out as one
   * batch; `moreWaiting` says another round follows at once (the queue is not dry).
   */
  afterRound?(moreWaiting: boolean): void;
}

interface Pending {
  readonly change: Change<unknown>;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
}

export interface GroupCommitStats {
  /** Storage commits made. */
  readonly rounds: number;
  /** Changes acknowledged through them. */
  readonly changes: number;
  readonly records: number;
}

export class GroupCommit {
  private readonly waiting: Pending[] = [];
  private draining: Promise<void> | undefined;
  private rounds = 0;
  private changes = 0;
  private records = 0;

  constructor(private readonly options: GroupCommitOptions) {}

  /** Queues a change; resolves with its plan's result once it is durable. */
  submit<T>(change: Change<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.waiting.push({ change: change as Change<unknown>, resolve: resolve as (value: unknown) => void, reject });
      // Started on a microtask, not at once, so changes submitted in the same task share a round.
      this.draining ??= Promise.resolve().then(() => this.drain());
    });
  }

  /** Resolves once every change submitted so far has settled. */
  async idle(): Promise<void> {
    while (this.draining) await this.draining;
  }

  get stats(): GroupCommitStats {
    return { rounds: this.rounds, changes: this.changes, records: this.records };
  }

  private async drain(): Promise<void> {
    try {
      while (this.waiting.length > 0) await this.round();
    } finally {
      this.draining = undefined;
    }
  }

  private async round(): Promise<void> {
    // null: deleted in this round.
    const staged = new Map<MemoryId, MemoryRecord | null>();
    const stage: Stage = {
      record: (id) => (staged.has(id) ? (staged.get(id) ?? undefined) : this.options.record(id)),
      put: (record) => void staged.set(record.id, record),
      remove: (id) => void staged.set(id, null),
      counter: this.options.counter(),
    };
    const planned: { pending: Pending; result: unknown }[] = [];
    while (this.waiting.length > 0 && staged.size < this.options.maxRecords) {
      const pending = this.waiting.shift() as Pending;
      // A throwing plan must leave no trace: plan against a scratch overlay, keep it only on success.
      const scratch = new Map<MemoryId, MemoryRecord | null>();
      const trial: Stage = {
        record: (id) => (scratch.has(id) ? (scratch.get(id) ?? undefined) : stage.record(id)),
        put: (record) => void scratch.set(record.id, record),
        remove: (id) => void scratch.set(id, null),
        counter: stage.counter,
      };
      let result: unknown;
      try {
        result = pending.change.plan(trial);
      } catch (error) {
        pending.reject(error);
        continue;
      }
      for (const [id, record] of scratch) staged.set(id, record);
      stage.counter = trial.counter;
      planned.push({ pending, result });
    }
    if (planned.length === 0) return;
    const records: MemoryRecord[] = [];
    const removed: MemoryId[] = [];
    for (const [id, record] of staged) {
      if (record) records.push(record);
      else if (this.options.record(id) !== undefined) removed.push(id);
    }
    if (records.length > 0 || removed.length > 0 || planned.some(({ pending }) => pending.change.persist === true)) {
      try {
        await this.options.commit(records, removed, stage.counter);
      } catch (error) {
        for (const { pending } of planned) pending.reject(error);
        return;
      }
    }
    this.rounds += 1;
    this.changes += planned.length;
    this.records += records.length;
    this.options.install(records, removed, stage.counter);
    for (const { pending, result } of planned) {
      try {
        pending.change.after?.(result);
      } catch (error) {
        this.options.afterFailed(error);
      }
      pending.resolve(result);
    }
    this.options.afterRound?.(this.waiting.length > 0);
  }
}
