/**
 * Every period, timeout, fan-out and threshold of the protocol, with its default and the reason
 * for it. Tests and the simulator override fields; nothing else in the core hard-codes a number.
 */

export interface EngramConfig {
  // ---- SWIM membership (swim.ts, probe-cycle.ts, rumours.ts, suspicion.ts, awareness.ts) ----
  /** Time between two probes sent by one node. */
  probeIntervalMs: number;
  /** How long a direct ping waits for its ack before asking helpers. */
  probeTimeoutMs: number;
  /** Helpers asked to ping a target indirectly (ping-req) when the direct ping times out. */
  indirectChecks: number;
  /** Suspicion lasts suspicionMult * log10(n + 1) * probeIntervalMs at least (memberlist's formula). */
  suspicionMult: number;
  /** With no confirmations, suspicion lasts this many times its minimum (Lifeguard). */
  suspicionMaxTimeoutMult: number;
  /** Independent suspicions after which the suspicion timeout has shrunk to its minimum. */
  suspicionConfirmations: number;
  /** A rumour is piggybacked retransmitMult * ceil(log10(n + 1)) times. */
  retransmitMult: number;
  /** Most rumours piggybacked on one message. */
  maxPiggyback: number;
  /** Lifeguard local health: the probe interval and timeout scale up to (1 + this) times. */
  awarenessMaxMultiplier: number;
  /** Time between full membership exchanges (push-pull) with one random member, dead ones included. */
  syncIntervalMs: number;
  /** Time between pings to one member believed dead, so a healed partition is noticed quickly. */
  reconnectProbeIntervalMs: number;
  /** Dead and left members are forgotten after this long, so a closed tab stops counting against visibility. */
  reapAfterMs: number;

  // ---- Replication and healing (node.ts, merkle.ts, heal.ts) ----
  /**
   * Under sustained write load (commit rounds back to back), local writes are pushed at most this
   * often, gathered over the rounds in between. A write made when the queue runs dry is pushed the
   * moment it is durable: this is not a timer (node.ts).
   */
  replicationBatchMs: number;
  /** Most versions in one replication or heal message. */
  maxRecordsPerMessage: number;
  /** Time between Merkle-root comparisons with one random alive member (background anti-entropy). */
  antiEntropyIntervalMs: number;
  /** A heal step that gets no answer within this long is abandoned and retried later. */
  healStepTimeoutMs: number;
  /** A heal-open that gets no reply within this long is abandoned (nothing was exchanged yet). */
  healOpenTimeoutMs: number;
  /** One-way heal sessions a node serves (sends in) while it receives in its own; see heal.ts. */
  healMaxServing: number;
  /** One storage commit takes the queued changes until it holds this many records (group-commit.ts). */
  groupCommitMaxRecords: number;
  /** Merkle tree arity (children per internal node). */
  merkleArity: number;
  /** Depth of the finest Merkle level; leaves = merkleArity ^ merkleMaxDepth. */
  merkleMaxDepth: number;
  /** Healing descends until buckets hold about this many keys, then compares keys inside them. */
  merkleKeysPerBucket: number;

  // ---- Reads, conflicts, consolidation ----
  /** Lowest visibility penalty factor, reached as visibility goes to 0 (visibility.ts). */
  visibilityPenaltyFloor: number;
  /** Concurrent siblings whose contents differ and whose confidences are within this are a true conflict. */
  conflictConfidenceMargin: number;
  /** Time between two runs of local consolidation. */
  consolidationIntervalMs: number;

  // ---- Forgetting (frontier.ts, tombstone-collector.ts) ----
  /**
   * A tombstone is kept at least this long (by its hybrid timestamp), and only versions older
   * than this are ever refused or dropped as obsolete on a peer's word: the horizon.
   */
  tombstoneHorizonMs: number;
  /** Time between two sweeps for collectable tombstones. */
  tombstoneSweepMs: number;
  /** Most records one sweep deletes (one commit). */
  tombstoneSweepMax: number;
}

export const DEFAULT_CONFIG: Readonly<EngramConfig> = Object.freeze({
  probeIntervalMs: 200, // 5 probes a second: a 3|2 split is seen by every node within ~1 s (sim: detection p99).
  probeTimeoutMs: 80, // Data channels between tabs answer in < 10 ms; 80 leaves room for a busy main thread.
  indirectChecks: 3, // SWIM paper's k: three helpers make a false suspicion from one lossy link unlikely.
  suspicionMult: 4, // memberlist's LAN default: suspect for 4 * log10(n+1) probe intervals at least.
  suspicionMaxTimeoutMult: 6, // Lifeguard: an unconfirmed suspicion waits up to 6x longer before dead.
  suspicionConfirmations: 3, // Lifeguard's K: three independent suspicions take the timeout to its minimum.
  retransmitMult: 4, // memberlist: a rumour reaches every node w.h.p. after 4 * log10(n+1) piggybacks.
  maxPiggyback: 8, // Keeps a ping under ~200 bytes even while many members change at once.
  awarenessMaxMultiplier: 8, // Lifeguard: a starved node slows its probes down up to 9x instead of accusing others.
  syncIntervalMs: 3_000, // Push-pull every 3 s: repairs lost rumours and membership views that drifted apart.
  reconnectProbeIntervalMs: 400, // A dead member that answers refutes at once: a healed split is seen in < 0.5 s.
  reapAfterMs: 10 * 60_000, // 10 min: a long partition still shows as one; a closed tab leaves explicitly anyway.

  replicationBatchMs: 20, // At 2.5k writes/s: one push per peer per 20 ms of rounds, not one per 1 ms round, which made every receiver commit a round per push.
  maxRecordsPerMessage: 256, // ~40 KB of typical memories: under WebRTC's 64 KB-ish message size, chunked beyond.
  antiEntropyIntervalMs: 2_000, // Catches anything eager replication missed (lost batches) within seconds.
  healStepTimeoutMs: 2_000, // Twenty times a LAN round trip: a step that slow means the peer went away.
  healOpenTimeoutMs: 500, // The reply is immediate; an open lost to a link still reconnecting after a cut must not hold the healer for 2 s.
  healMaxServing: 2, // After a split into k sides, a side's nodes outnumber the other's by a few: two serve each the one left over.
  groupCommitMaxRecords: 1_024, // Four full heal batches: one IndexedDB commit of ~1K records takes tens of ms, so a write queued behind it still waits little.
  merkleArity: 16, // 16-way: four round trips descend 65,536 buckets; each level's message stays small.
  merkleMaxDepth: 4, // 65,536 finest buckets: room for ~250K keys at the target bucket size.
  merkleKeysPerBucket: 4, // Stop at ~2.4 keys per bucket for 10K keys: key lists cost ~3.8 KB at 1% divergence, one level deeper ~17 KB of hashes (measured).

  visibilityPenaltyFloor: 0.25, // Seeing only yourself still leaves a quarter of the stated confidence.
  conflictConfidenceMargin: 0.1, // Siblings further apart than 0.1 in confidence are resolved by confidence.
  consolidationIntervalMs: 5_000, // Gists refresh every 5 s; cheap, deterministic, runs in partitions too.

  tombstoneHorizonMs: 24 * 3_600_000, // A day: a forget stays visible as one that long, and a member's word can drop only writes older than a day (frontier.ts).
  tombstoneSweepMs: 60_000, // Once a minute: forgotten memories cost a little space until then, nothing else.
  tombstoneSweepMax: 4_096, // One commit of ~4K deletions: a few ms, not a long task.
});

export function resolveConfig(overrides: Partial<EngramConfig> = {}): EngramConfig {
  const config = { ...DEFAULT_CONFIG, ...overrides };
  for (const [key, value] of Object.entries(config)) {
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
      throw new RangeError(`config.${key} must be a non-negative finite number, got ${String(value)}`);
    }
  }
  return config;
}
