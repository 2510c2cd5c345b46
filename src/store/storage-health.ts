/**
 * What this tab can honestly say about its storage: whether the browser granted persistent
 * storage, how full the site's quota is, and whether the database is still there. The IndexedDB
 * adapter reports to it; the page handle shows it (`storageStatus()` and 'storage' events).
 *
 * Policy for a full store:
 * - it still opens and reads (EngramNode.open does not fail on an unrecorded start);
 * - a write that adds content (remember, resolve, content from a peer or a folded replica) is
 *   refused with `storage-full` once the site's free quota is below `reserveBytes`, or when the
 *   browser refuses it (QuotaExceededError); the message gives usage and quota;
 * - a write that only adds tombstones (forget) or the node's own state may use the reserve:
 *   a tombstone is a new, small value (the record log appends; Chromium charges a transaction
 *   for the bytes it puts, not net of what it supersedes), so forgetting stays possible in a
 *   store too full for new memories, and the log's compaction then drops the forgotten content.
 *
 * Policy for a vanished database (site data cleared, deleted by another tab): the state becomes
 * 'lost', every later storage call fails with `storage-lost`, and the page handle refuses
 * `recall`/`get` with it rather than answer from memory what is no longer on disk.
 */
import { EngramError } from '../core/errors.js';
import type { StorageBatch } from '../core/ports.js';

export type StorageState = 'ok' | 'full' | 'lost' | 'failed';

/** The shape the UI seam shows (src/ui/engram-handle.ts `storageStatus`). */
export interface StorageStatus {
  readonly state: StorageState;
  /** Whether navigator.storage.persist() was granted; undefined where the browser cannot say. */
  readonly persisted: boolean | undefined;
  readonly usageBytes?: number;
  readonly quotaBytes?: number;
  /** What is wrong, in words a person can act on; absent while all is well. */
  readonly message?: string;
}

/** The part of navigator.storage used here. */
export interface StorageManagerPort {
  persist?(): Promise<boolean>;
  estimate?(): Promise<{ usage?: number; quota?: number }>;
}

export interface StorageHealthConfig {
  /**
   * Free quota below which writes that add content are refused, kept for forgets and the node's
   * state: a tombstone record is ~0.2 KB, so 256 KiB is room for a thousand forgets and state
   * updates, and under 0.01 % of the smallest quota a browser grants a site (Chromium: 60 % of
   * the disk; Safari: 1 GB).
   */
  readonly reserveBytes: number;
  /**
   * While free space is plentiful (over `closeToFullFactor` reserves), usage is re-estimated after
   * this many commits rather than after each: an estimate is an IPC round trip, and a heal commits
   * hundreds of batches in a burst. Near full, every commit re-estimates.
   */
  readonly estimateEveryCommits: number;
  readonly closeToFullFactor: number;
}

export const STORAGE_HEALTH_CONFIG: StorageHealthConfig = {
  reserveBytes: 256 * 1024, // See above.
  estimateEveryCommits: 64, // 64 commits of even 60 KB memories are 4 MB: within 16 reserves.
  closeToFullFactor: 16, // 4 MiB of headroom: below it, figures are kept fresh.
};

function megabytes(bytes: number): string {
  return `${(bytes / 1_000_000).toFixed(bytes < 10_000_000 ? 2 : 1)} MB`;
}

/** True when the batch adds content: a version that is not a tombstone. */
export function addsContent(batch: StorageBatch): boolean {
  return (batch.records ?? []).some((record) => record.siblings.some((sibling) => !sibling.deleted));
}

export class StorageHealth {
  private state: StorageState = 'ok';
  private persisted: boolean | undefined;
  private usageBytes: number | undefined;
  private quotaBytes: number | undefined;
  private message: string | undefined;
  private readonly changeListeners = new Set<(status: StorageStatus) => void>();
  private readonly errorListeners = new Set<(error: Error) => void>();
  private estimating: Promise<void> | undefined;
  private estimateAgain = false;
  private commitsSinceEstimate = 0;

  constructor(
    private readonly manager: StorageManagerPort | undefined,
    private readonly config: StorageHealthConfig = STORAGE_HEALTH_CONFIG,
  ) {}

  /**
   * Takes a first estimate, then asks for persistent storage. Never throws: what fails stays
   * unknown. The estimate comes first because `persist()` may wait for the person (Firefox asks
   * in a prompt), and `admit` needs the figures meanwhile: a caller that cannot wait awaits
   * `refreshEstimate()` and leaves `requestPersistence()` running.
   */
  async start(): Promise<void> {
    await this.refreshEstimate();
    await this.requestPersistence();
  }

  /** Asks navigator.storage.persist() and announces the answer (granted, refused, or unknown). */
  async requestPersistence(): Promise<void> {
    let persisted: boolean | undefined;
    try {
      persisted = this.manager?.persist ? await this.manager.persist() : undefined;
    } catch {
      persisted = undefined;
    }
    if (persisted !== this.persisted) {
      this.persisted = persisted;
      this.notify();
    }
  }

  /**
   * For reads answered from memory: once the database is gone, what the node holds in memory may
   * no longer exist on disk, so a read must not pretend otherwise.
   */
  assertPresent(): void {
    if (this.state === 'lost') throw new EngramError('storage-lost', this.message ?? 'the database of this tab is gone');
  }

  status(): StorageStatus {
    return {
      state: this.state,
      persisted: this.persisted,
      ...(this.usageBytes !== undefined ? { usageBytes: this.usageBytes } : {}),
      ...(this.quotaBytes !== undefined ? { quotaBytes: this.quotaBytes } : {}),
      ...(this.message !== undefined ? { message: this.message } : {}),
    };
  }

  onChange(listener: (status: StorageStatus) => void): () => void {
    this.changeListeners.add(listener);
    return () => this.changeListeners.delete(listener);
  }

  /** Errors nobody awaits (compaction, folding): they reach these listeners, not only the console. */
  onError(listener: (error: Error) => void): () => void {
    this.errorListeners.add(listener);
    return () => this.errorListeners.delete(listener);
  }

  reportBackground(error: Error): void {
    for (const listener of this.errorListeners) listener(error);
  }

  /** Free quota as last estimated, if the browser gave figures. */
  get freeBytes(): number | undefined {
    return this.usageBytes !== undefined && this.quotaBytes !== undefined ? this.quotaBytes - this.usageBytes : undefined;
  }

  /** Called before a commit: refuses it when the database is gone, or when it adds content to a store in its reserve. */
  async admit(batch: StorageBatch): Promise<void> {
    this.assertPresent();
    const free = this.freeBytes;
    if (free !== undefined && free < this.config.reserveBytes && addsContent(batch)) {
      await this.refreshEstimate();
      const fresh = this.freeBytes;
      if (fresh !== undefined && fresh < this.config.reserveBytes) throw this.full();
    }
  }

  /** The browser refused a write for quota (or `admit` did): the state becomes 'full'; returns the error to throw. */
  full(cause?: unknown): EngramError {
    const message = this.fullMessage();
    this.set('full', message);
    // The figures may be stale; the next status shows fresh ones.
    void this.refreshEstimate();
    return new EngramError('storage-full', message, cause === undefined ? undefined : { cause });
  }

  /** The database vanished: from now on nothing is saved; returns the error to throw. */
  lost(explanation: string, cause?: unknown): EngramError {
    const message = `This tab's database is gone (${explanation}): nothing is saved any more, and what the tab shows may no longer exist on disk. Reload the tab.`;
    if (this.state !== 'lost') this.set('lost', message);
    return new EngramError('storage-lost', this.message ?? message, cause === undefined ? undefined : { cause });
  }

  private fullMessage(): string {
    const figures =
      this.usageBytes !== undefined && this.quotaBytes !== undefined
        ? ` (${megabytes(this.usageBytes)} used of ${megabytes(this.quotaBytes)} allowed)`
        : '';
    return `The browser's storage for this site is full${figures}: this write was not saved. Forget memories you no longer need, or free space for this site in the browser's settings, then try again.`;
  }

  /** Any other storage failure: shown until a commit succeeds again. */
  failed(error: EngramError): void {
    if (this.state === 'lost') return;
    this.set('failed', error.message);
  }

  /** A commit succeeded: the estimate is refreshed, and a full or failed store that has room again is 'ok'. */
  committed(): void {
    if (this.state === 'failed') this.set('ok', undefined);
    this.commitsSinceEstimate += 1;
    const free = this.freeBytes;
    const closeToFull = free === undefined || free < this.config.reserveBytes * this.config.closeToFullFactor;
    if (this.state === 'full' || closeToFull || this.commitsSinceEstimate >= this.config.estimateEveryCommits) void this.refreshEstimate();
  }

  /** Re-reads usage and quota (coalesced: one estimate at a time, and one more if asked meanwhile). */
  refreshEstimate(): Promise<void> {
    if (this.estimating) {
      this.estimateAgain = true;
      return this.estimating;
    }
    const before = { usage: this.usageBytes, quota: this.quotaBytes };
    this.commitsSinceEstimate = 0;
    this.estimating = (async () => {
      do {
        this.estimateAgain = false;
        try {
          const estimate = await this.manager?.estimate?.();
          if (estimate?.usage !== undefined) this.usageBytes = estimate.usage;
          if (estimate?.quota !== undefined) this.quotaBytes = estimate.quota;
        } catch {
          // No figures this time: keep the last ones.
        }
      } while (this.estimateAgain);
      const free = this.freeBytes;
      if (this.state === 'full' && free !== undefined && free >= this.config.reserveBytes) this.set('ok', undefined);
      // Said as soon as the figures show it, not only once a write is refused: a tab opened on a
      // full store tells its user before they type a memory that cannot be kept.
      else if (this.state === 'ok' && free !== undefined && free < this.config.reserveBytes) this.set('full', this.fullMessage());
      else if (this.usageBytes !== before.usage || this.quotaBytes !== before.quota) this.notify();
      // Cleared here, in the same turn as the last check of `estimateAgain`: a `.finally` would
      // run a turn later, and a refresh asked in between would be lost.
      this.estimating = undefined;
    })();
    return this.estimating;
  }

  private set(state: StorageState, message: string | undefined): void {
    this.state = state;
    this.message = message;
    this.notify();
  }

  private notify(): void {
    const status = this.status();
    for (const listener of this.changeListeners) listener(status);
  }
}
