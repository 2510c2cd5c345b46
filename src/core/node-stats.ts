/**
 * What a node counts about its own traffic and work, for benchmarks, the simulator and the UI:
 * messages and bytes each way by type, decode errors, refused and re-asserted versions, time
 * spent in storage, and the size of the causal metadata it sends (clock-codec.ts). Counting only:
 * nothing here decides anything.
 */
import type { GroupCommitStats } from './group-commit.js';
import type { Encoded, Message } from './wire.js';

export interface NodeStats {
  readonly messagesSent: number;
  readonly bytesSent: number;
  readonly messagesReceived: number;
  readonly bytesReceived: number;
  readonly decodeErrors: number;
  /** Remote versions refused by admission (admission.ts) or that could not be merged; each was skipped, the rest of its batch applied. */
  readonly refusedVersions: number;
  /** Records of this node's own re-asserted over a forged version of one of its dots or contexts. */
  readonly reassertions: number;
  /** Forgotten memories deleted for good (frontier.ts). */
  readonly tombstonesCollected: number;
  /** Remote versions skipped because this node had seen them and written over them (frontier.ts). */
  readonly obsoleteRefused: number;
  /** Versions dropped here because a peer had seen them and holds nothing of them (frontier.ts). */
  readonly obsoleteDropped: number;
  /** Times this node's frontier grew from a peer with an equal root. */
  readonly frontierLearned: number;
  readonly commitMs: number;
  /** Storage commits (rounds of group commit) and the changes and records they carried. */
  readonly commits: GroupCommitStats;
  readonly byType: Readonly<Record<string, { count: number; bytes: number }>>;
  /** Histogram: bytes of the vector clock each sent message carries (its link header) → messages. */
  readonly clockBytes: ReadonlyMap<number, number>;
  /** Histogram: bytes of causal metadata (dot + context) per replicated version sent → versions. */
  readonly versionClockBytes: ReadonlyMap<number, number>;
}

/** The running counts behind NodeStats; the node's mechanisms add to `counters` where they act. */
export class NodeCounters {
  readonly counters = {
    messagesSent: 0,
    bytesSent: 0,
    messagesReceived: 0,
    bytesReceived: 0,
    decodeErrors: 0,
    refusedVersions: 0,
    reassertions: 0,
    tombstonesCollected: 0,
    obsoleteRefused: 0,
    obsoleteDropped: 0,
    frontierLearned: 0,
    /** Time spent waiting on storage commits (scheduler ms). */
    commitMs: 0,
  };
  private readonly byType: Record<string, { count: number; bytes: number }> = {};
  private readonly clockBytesHistogram = new Map<number, number>();
  private readonly versionClockBytesHistogram = new Map<number, number>();

  sent(message: Message, encoded: Encoded): void {
    const size = encoded.bytes.length;
    this.counters.messagesSent += 1;
    this.counters.bytesSent += size;
    const key = message.type === 'swim' ? `swim-${message.swim.type}` : message.type;
    const entry = (this.byType[key] ??= { count: 0, bytes: 0 });
    entry.count += 1;
    entry.bytes += size;
    countInto(this.clockBytesHistogram, encoded.clockBytes);
    for (const bytes of encoded.versionClockBytes) countInto(this.versionClockBytesHistogram, bytes);
  }

  received(size: number): void {
    this.counters.messagesReceived += 1;
    this.counters.bytesReceived += size;
  }

  snapshot(commits: GroupCommitStats): NodeStats {
    return {
      ...this.counters,
      commits,
      byType: this.byType,
      clockBytes: this.clockBytesHistogram,
      versionClockBytes: this.versionClockBytesHistogram,
    };
  }
}

function countInto(histogram: Map<number, number>, value: number): void {
  histogram.set(value, (histogram.get(value) ?? 0) + 1);
}
