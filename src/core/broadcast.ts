/**
 * The piggyback queue (memberlist's queue.go, TransmitLimitedQueue): rumours waiting to ride on
 * outgoing protocol messages. Each goes out a bounded number of times, least-transmitted first,
 * and a newer rumour about the same subject replaces the queued one, so the queue never holds
 * more than one entry per member and never spreads a claim that is already stale.
 */

/**
 * How many times one rumour is piggybacked: retransmitMult * ceil(log10(n + 1)). An epidemic
 * reaches all n members with high probability after O(log n) rounds (memberlist's retransmitLimit).
 */
export function retransmitLimit(retransmitMult: number, memberCount: number): number {
  return retransmitMult * Math.ceil(Math.log10(memberCount + 1));
}

interface Entry<T> {
  readonly key: string;
  readonly item: T;
  readonly urgent: boolean;
  transmits: number;
}

export class BroadcastQueue<T> {
  private readonly byKey = new Map<string, Entry<T>>();
  // Entries bucketed by transmit count (insertion-ordered within a bucket), urgent ones in their
  // own tier: taking the least-transmitted k is O(k + buckets), with no sorting per message.
  private readonly urgentBuckets: Map<string, Entry<T>>[] = [];
  private readonly normalBuckets: Map<string, Entry<T>>[] = [];

  /** Rumours waiting to be sent. */
  get size(): number {
    return this.byKey.size;
  }

  /**
   * Queues `item` about `key`, replacing (and resetting the count of) any queued item with that key.
   * Urgent items go out before all others, whatever their counts (refutations must win the race).
   */
  enqueue(key: string, item: T, urgent = false): void {
    const old = this.byKey.get(key);
    if (old) this.bucket(old).delete(key);
    const entry: Entry<T> = { key, item, urgent, transmits: 0 };
    this.byKey.set(key, entry);
    this.bucket(entry).set(key, entry);
  }

  /**
   * Up to `max` items for one message, urgent first, then least transmitted first (oldest first
   * among equals). Each counts one transmission; an item sent `limit` times leaves the queue.
   */
  take(max: number, limit: number): T[] {
    const taken: Entry<T>[] = [];
    for (const tier of [this.urgentBuckets, this.normalBuckets]) {
      for (let transmits = 0; transmits < tier.length && taken.length < max; transmits++) {
        const bucket = tier[transmits];
        if (!bucket || bucket.size === 0) continue;
        if (transmits >= limit) {
          // The limit shrank with the cluster: these have been sent enough.
          for (const key of bucket.keys()) this.byKey.delete(key);
          bucket.clear();
          continue;
        }
        for (const entry of bucket.values()) {
          if (taken.length >= max) break;
          taken.push(entry);
        }
      }
    }
    const items: T[] = [];
    for (const entry of taken) {
      items.push(entry.item);
      this.bucket(entry).delete(entry.key);
      entry.transmits++;
      if (entry.transmits >= limit) this.byKey.delete(entry.key);
      else this.bucket(entry).set(entry.key, entry);
    }
    return items;
  }

  private bucket(entry: Entry<T>): Map<string, Entry<T>> {
    const tier = entry.urgent ? this.urgentBuckets : this.normalBuckets;
    let bucket = tier[entry.transmits];
    if (!bucket) {
      bucket = new Map();
      tier[entry.transmits] = bucket;
    }
    return bucket;
  }
}
