/**
 * Storage in memory, for tests and the simulator. Commits can be given a latency on a
 * scheduler, and a crash drops the commits still in flight: exactly the guarantee the Storage
 * contract gives (a commit that did not resolve may not have happened, one that did is durable).
 */
import type { Scheduler, Storage, StorageBatch, TimerHandle } from '../core/ports.js';
import type { MemoryId, MemoryRecord, NodeState } from '../core/types.js';

export interface MemoryStorageOptions {
  /** Virtual latency of a commit; 0 resolves on the next microtask. */
  readonly commitLatencyMs?: number;
  readonly scheduler?: Scheduler;
}

export class MemoryStorage implements Storage {
  private state: NodeState | undefined;
  private readonly records = new Map<MemoryId, MemoryRecord>();
  private inFlight = new Set<TimerHandle>();
  /** Set to make every later commit fail (quota exceeded, disk gone). */
  failCommits: Error | undefined;
  commits = 0;

  constructor(private readonly options: MemoryStorageOptions = {}) {}

  async loadState(): Promise<NodeState | undefined> {
    return this.state && structuredClone(this.state);
  }

  async loadRecords(): Promise<MemoryRecord[]> {
    return [...this.records.values()].map((record) => structuredClone(record));
  }

  async getRecord(id: MemoryId): Promise<MemoryRecord | undefined> {
    const record = this.records.get(id);
    return record && structuredClone(record);
  }

  commit(batch: StorageBatch): Promise<void> {
    if (this.failCommits) return Promise.reject(this.failCommits);
    const apply = () => {
      if (batch.state) this.state = batch.state;
      // Records are immutable values in the core, so keeping the reference is a faithful copy.
      for (const record of batch.records ?? []) this.records.set(record.id, record);
      for (const id of batch.removed ?? []) this.records.delete(id);
      this.commits += 1;
    };
    const latency = this.options.commitLatencyMs ?? 0;
    const scheduler = this.options.scheduler;
    if (latency <= 0 || !scheduler) {
      apply();
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const handle = scheduler.setTimer(latency, () => {
        this.inFlight.delete(handle);
        apply();
        resolve();
      });
      this.inFlight.add(handle);
    });
  }

  /** The process died: commits not yet durable never happen (their promises never settle). */
  crash(): void {
    for (const handle of this.inFlight) handle.cancel();
    this.inFlight = new Set();
  }

  get recordCount(): number {
    return this.records.size;
  }
}
