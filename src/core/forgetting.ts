/**
 * A node's forgetting (frontier.ts): its frontier, the tombstone collector, and the two heal-time
 * decisions that use them: what it may learn from a peer whose root equalled its own, and which
 * of the records a peer lacks it ships or drops as obsolete. The rules are frontier.ts's; this
 * is their state and wiring, kept out of node.ts.
 */
import type { EngramConfig } from './config.js';
import { droppable, learnFrontier, obsolete, withOwnEntry } from './frontier.js';
import type { GroupCommit } from './group-commit.js';
import type { Scheduler } from './ports.js';
import { TombstoneCollector } from './tombstone-collector.js';
import type { MemoryId, MemoryRecord, NodeId, VersionVector } from './types.js';

export interface ForgettingOptions {
  readonly self: NodeId;
  readonly config: EngramConfig;
  readonly scheduler: Scheduler;
  readonly changes: GroupCommit;
  /** Epoch ms: the node's wall clock (hlc.ts), which timestamps are compared with. */
  readonly wallNow: () => number;
  /** The highest dot counter this node has issued: its own frontier entry. */
  readonly counter: () => number;
  /** The highest counter of `node` this node has seen in a dot or context entry (admission.ts). */
  readonly known: (node: NodeId) => number;
  readonly record: (id: MemoryId) => MemoryRecord | undefined;
  /** Drops the versions of these records that the peer's frontier makes obsolete (remote-apply.ts). */
  readonly dropObsolete: (ids: readonly MemoryId[], peerFrontier: VersionVector) => Promise<void>;
  /** The frontier grew: persist it with the next round of changes. */
  readonly persistState: () => void;
  readonly counters: { tombstonesCollected: number; frontierLearned: number };
  readonly stopped: () => boolean;
  /** The frontier as stored (NodeState.frontier), if any. */
  readonly stored: VersionVector | undefined;
}

export class Forgetting {
  private learnt: VersionVector;
  private readonly collector: TombstoneCollector;

  constructor(private readonly options: ForgettingOptions) {
    this.learnt = options.stored ?? {};
    this.collector = new TombstoneCollector({
      config: options.config,
      scheduler: options.scheduler,
      changes: options.changes,
      frontier: () => this.frontier(),
      cutoff: () => this.cutoff(),
      counters: options.counters,
      stopped: options.stopped,
    });
  }

  /** What is persisted: the frontier without the node's own entry (its counter says it). */
  get stored(): VersionVector {
    return this.learnt;
  }

  /** The frontier, this node's own entry included. */
  frontier(): VersionVector {
    return withOwnEntry(this.learnt, this.options.self, this.options.counter());
  }

  /** Epoch ms before which a version is older than the horizon. */
  cutoff(): number {
    return this.options.wallNow() - this.options.config.tombstoneHorizonMs;
  }

  /** A peer whose root equalled ours sent this frontier with or before that root (heal.ts). */
  learn(peers: VersionVector): void {
    const learned = learnFrontier(this.learnt, peers, this.options.self, this.options.known);
    if (learned === undefined) return;
    this.learnt = learned;
    this.options.counters.frontierLearned += 1;
    this.options.persistState();
  }

  /** Of records the peer lacks altogether, the ones to ship; the versions its frontier makes obsolete are dropped here. */
  shipOrDrop(ids: readonly MemoryId[], peerFrontier: VersionVector): MemoryId[] {
    const cutoff = this.cutoff();
    const ship: MemoryId[] = [];
    const drop: MemoryId[] = [];
    for (const id of ids) {
      const record = this.options.record(id);
      if (record === undefined) continue;
      if (record.siblings.some((version) => obsolete(version, peerFrontier, cutoff))) drop.push(id);
      if (!droppable(record, peerFrontier, cutoff)) ship.push(id);
    }
    if (drop.length > 0) void this.options.dropObsolete(drop, peerFrontier).catch(() => undefined);
    return ship;
  }

  /** Keeps the collector's candidates in step with an installed (or, undefined, deleted) record. */
  track(id: MemoryId, record: MemoryRecord | undefined): void {
    this.collector.track(id, record);
  }

  /** Forgotten memories held until they can be collected. */
  get tombstones(): number {
    return this.collector.pending;
  }

  collect(): Promise<number> {
    return this.collector.sweep();
  }

  start(): void {
    this.collector.start();
  }

  stop(): void {
    this.collector.stop();
  }
}
