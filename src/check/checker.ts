/**
 * Judges a history against the replicas after a heal, in the spirit of Jepsen's set-full:
 * nothing acknowledged may be missing anywhere (present, or superseded by a version that
 * causally includes it, or gone with its whole record after an acknowledged forget that had seen
 * it: a collected tombstone, core/frontier.ts), a forgotten memory must not come back unless someone wrote it again
 * concurrently (then it is a conflict to review, not a silent resurrection), all replicas must
 * hold the same records, and every true conflict must be in every replica's review queue.
 *
 * It also judges every recall in the history (checkReads). An AP store may legitimately miss the
 * other side's writes during a partition, so a miss counts only where the store promised more.
 * A memory m is *expected* in a recall R on node N (query q, invoked at R.invokedAt, answered at
 * R.completedAt) because of a witness write W (an acknowledged remember of m) when
 *   - W's content and tags match q (recall's rule, core/recall.ts), and
 *   - every other write to m invoked before R.completedAt, whatever its outcome (a failed or
 *     unanswered write may have happened), is a remember that matches q too, unless W had seen
 *     it (W's causal context covers its dot, or it ran on W's node before W was invoked).
 * Then whatever versions of m the replica holds besides W or a successor of W, each is live and
 * matches q, so the shown one does: a version superseded by a later one that no longer matches,
 * or hidden by a forget (concurrent or not), never makes m expected. Recalls that returned as
 * many results as their limit are not judged (the miss may be the cut-off). The checks:
 *   - read-your-writes: W was acknowledged on N at or before R.invokedAt, and R misses m. Always
 *     a bug, at any visibility: an acknowledged write is durable on its node (restarts included).
 *   - monotonic reads: an earlier recall on N, answered at or before R.invokedAt, returned m, and
 *     every write to m invoked before R.completedAt is a remember matching q; R misses m. Always
 *     a bug: N held a live version of m, and records never lose versions except to successors.
 *   - stale read without warning: R carried no partial-visibility warning, the cluster was whole
 *     at R.invokedAt (no fault from history.fault in force), and W was acknowledged anywhere more
 *     than staleAfterMs before R.invokedAt, counting from the last time the cluster became whole
 *     again if that is later (writes made across a cut are only due once it heals). Misses of
 *     younger writes at full visibility are allowed and reported as lagging reads, so the bound
 *     can be judged against what was seen.
 *
 * It reads plain snapshots, so the same checker judges simulated nodes and real browser tabs:
 * it lives in src/check/, beside the history it reads, for the simulator (src/sim/scenarios.ts),
 * the browser fault schedule (e2e/harness/fault-schedule.ts) and the benchmark (bench/run.ts).
 */
import { DEFAULT_CONFIG, type EngramConfig } from '../core/config.js';
import { recordDigest, toHex } from '../core/digest.js';
import { conflictOf, mergeRecords, shownVersion } from '../core/merge.js';
import type { EngramNode } from '../core/node.js';
import type { RecallQuery } from '../core/recall.js';
import type { Dot, MemoryId, MemoryRecord, NodeId, VersionVector } from '../core/types.js';
import { covers, dotKey } from '../core/vector-clock.js';
import type { FaultEvent, History, Operation, RecallOperation } from './history.js';
import type { Provenance } from './provenance.js';

/** What the checker needs to know of one replica after the heal. */
export interface ReplicaSnapshot {
  readonly id: NodeId;
  readonly records: readonly MemoryRecord[];
  readonly merkleRoot: string;
  /** Ids in the replica's conflict review queue. */
  readonly conflictIds: readonly MemoryId[];
}

export function snapshotOf(node: EngramNode): ReplicaSnapshot {
  return {
    id: node.id,
    records: [...node.allRecords()],
    merkleRoot: node.merkleRoot(),
    conflictIds: node.conflicts().map((conflict) => conflict.id),
  };
}

export interface LostWrite {
  readonly id: MemoryId;
  readonly dot: string;
  readonly writtenOn: NodeId;
  readonly missingOn: readonly NodeId[];
}

export interface SnapshotReport {
  readonly acknowledged: number;
  /** Acknowledged writes missing on at least one replica. */
  readonly lostWrites: number;
  /** Acknowledged writes missing on every replica. */
  readonly lostEverywhere: number;
  readonly lost: readonly LostWrite[];
  /** Acknowledged forgets whose memory is shown alive again with no concurrent write to explain it. */
  readonly resurrected: number;
  readonly converged: boolean;
  readonly distinctRoots: number;
  /** Records whose sibling sets differ between some two replicas. */
  readonly divergentRecords: number;
  /** True conflicts in the union of all replicas. */
  readonly conflicts: number;
  /** True conflicts some replica's review queue does not list. */
  readonly conflictsNotSurfaced: number;
}

/** The checker's full verdict: the replicas after the heal, and every recall in the history. */
export type CheckReport = SnapshotReport & ReadReport;

export function holds(record: MemoryRecord | undefined, dot: Dot): boolean {
  if (!record) return false;
  return record.siblings.some(
    (sibling) => (sibling.dot.node === dot.node && sibling.dot.counter === dot.counter) || covers(sibling.context, dot),
  );
}

/** The join of every replica's records: what a converged cluster must hold. */
export function unionOf(replicas: readonly { readonly records: Iterable<MemoryRecord> }[]): Map<MemoryId, MemoryRecord> {
  const union = new Map<MemoryId, MemoryRecord>();
  for (const replica of replicas) {
    for (const record of replica.records) {
      const current = union.get(record.id);
      union.set(record.id, current ? mergeRecords(current, record) : record);
    }
  }
  return union;
}

/** Σ over replicas of the records that differ from the union: the deliveries a perfect heal needs. */
export function divergenceFromUnion(nodes: readonly EngramNode[]): number {
  return divergenceOfSnapshots(nodes.map((node) => ({ records: [...node.allRecords()] })));
}

export function divergenceOfSnapshots(replicas: readonly { readonly records: readonly MemoryRecord[] }[]): number {
  const union = unionOf(replicas);
  const unionDigests = new Map<MemoryId, string>();
  for (const [id, record] of union) unionDigests.set(id, toHex(recordDigest(record)));
  let divergent = 0;
  for (const replica of replicas) {
    const own = new Map<MemoryId, string>();
    for (const record of replica.records) own.set(record.id, toHex(recordDigest(record)));
    for (const [id, digest] of unionDigests) if (own.get(id) !== digest) divergent++;
  }
  return divergent;
}

export function checkReplicas(history: History, nodes: readonly EngramNode[], readOptions: ReadCheckOptions = {}): CheckReport {
  const config = nodes[0]?.config;
  const margin = config?.conflictConfidenceMargin ?? 0.1;
  return checkSnapshots(history, nodes.map(snapshotOf), margin, { staleAfterMs: staleAfterMsFor(config ?? DEFAULT_CONFIG), ...readOptions });
}

/** The replicas after the heal (checkReplicasAfterHeal) and every recall in the history (checkReads). */
export function checkSnapshots(history: History, replicas: readonly ReplicaSnapshot[], conflictMargin = 0.1, readOptions: ReadCheckOptions = {}): CheckReport {
  return { ...checkReplicasAfterHeal(history, replicas, conflictMargin), ...checkReads(history, readOptions) };
}

export function checkReplicasAfterHeal(history: History, replicas: readonly ReplicaSnapshot[], conflictMargin = 0.1): SnapshotReport {
  const acknowledged = history.acknowledged();
  const byId = replicas.map((replica) => new Map(replica.records.map((record) => [record.id, record])));
  const lost: LostWrite[] = [];
  let lostEverywhere = 0;
  // What each memory's acknowledged forgets had seen: a record gone altogether is fine if one of them saw the write.
  const forgetsSeen = new Map<MemoryId, VersionVector[]>();
  for (const operation of acknowledged) {
    if (operation.kind !== 'forget' || !operation.context) continue;
    const seen = { ...operation.context, [(operation.dot as Dot).node]: (operation.dot as Dot).counter };
    forgetsSeen.set(operation.ackedId as MemoryId, [...(forgetsSeen.get(operation.ackedId as MemoryId) ?? []), seen]);
  }
  const collected = (id: MemoryId, dot: Dot) => (forgetsSeen.get(id) ?? []).some((seen) => covers(seen, dot));
  for (const operation of acknowledged) {
    const id = operation.ackedId as MemoryId;
    const dot = operation.dot as Dot;
    const missingOn = replicas
      .filter((_, i) => {
        const record = byId[i]?.get(id);
        // Seen by an acknowledged forget: superseded, whether the tombstone is still held, was
        // collected, or the memory was written again afresh since (an edit of a collected memory).
        return !holds(record, dot) && !collected(id, dot);
      })
      .map((replica) => replica.id);
    if (missingOn.length > 0) {
      lost.push({ id, dot: dotKey(dot), writtenOn: operation.node, missingOn });
      if (missingOn.length === replicas.length) lostEverywhere++;
    }
  }
  const union = unionOf(replicas);
  let resurrected = 0;
  for (const operation of acknowledged) {
    if (operation.kind !== 'forget' || !operation.context) continue;
    const record = union.get(operation.ackedId as MemoryId);
    if (!record || shownVersion(record).deleted) continue;
    // Alive again. Legitimate only through a write the forget had not seen (concurrent or later);
    // if every live version is one the tombstone had seen, a forgotten memory came back.
    const seen = { ...operation.context, [(operation.dot as Dot).node]: (operation.dot as Dot).counter };
    const live = record.siblings.filter((sibling) => !sibling.deleted);
    if (live.every((sibling) => covers(seen, sibling.dot))) resurrected++;
  }
  const roots = new Set(replicas.map((replica) => replica.merkleRoot));
  let divergentRecords = 0;
  for (const [id, record] of union) {
    const digest = toHex(recordDigest(record));
    if (byId.some((own) => !own.has(id) || toHex(recordDigest(own.get(id) as MemoryRecord)) !== digest)) divergentRecords++;
  }
  let conflicts = 0;
  let conflictsNotSurfaced = 0;
  const queues = replicas.map((replica) => new Set(replica.conflictIds));
  for (const record of union.values()) {
    if (!conflictOf(record, conflictMargin)) continue;
    conflicts++;
    if (queues.some((queue) => !queue.has(record.id))) conflictsNotSurfaced++;
  }
  return {
    acknowledged: acknowledged.length,
    lostWrites: lost.length,
    lostEverywhere,
    lost: lost.slice(0, 20),
    resurrected,
    converged: roots.size <= 1 && divergentRecords === 0,
    distinctRoots: roots.size,
    divergentRecords,
    conflicts,
    conflictsNotSurfaced,
  };
}

// ---------------------------------------------------------------- reads

/**
 * How long after its ack (or after the cluster became whole again) a write may still be missing
 * from a read at full visibility: 2 x antiEntropyIntervalMs + healStepTimeoutMs, 6 s by default.
 * The eager push goes out when the write is durable (under sustained load, within replicationBatchMs
 * of rounds) and delivers within a round trip. What it misses (a
 * lost batch, a write made across a cut that just healed, a peer link being replaced) is pulled
 * by a heal the node starts when a member comes back or a peer's clock runs ahead of its own, and
 * at the latest by anti-entropy, every 0.75-1.25 x antiEntropyIntervalMs (2.5 s at most). The
 * bound allows two such rounds plus one heal step that stalls and is abandoned
 * (healStepTimeoutMs): the slowest legitimate path, with room for busy browser main threads.
 * A session is only held past a silent step while its peer says it is still committing
 * (heal.ts keepBusyAlive), which a lost message cannot fake.
 */
export function staleAfterMsFor(config: Pick<EngramConfig, 'antiEntropyIntervalMs' | 'healStepTimeoutMs'>): number {
  return 2 * config.antiEntropyIntervalMs + config.healStepTimeoutMs;
}

export interface ReadCheckOptions {
  /** The stale-read bound (module comment); staleAfterMsFor(DEFAULT_CONFIG) by default. */
  readonly staleAfterMs?: number;
  /** How many violations the report lists (all are counted). */
  readonly maxExamples?: number;
}

export type ReadViolationKind = 'read-your-writes' | 'monotonic-read' | 'stale-read';

/** One memory a recall should have returned and did not. */
export interface ReadViolation {
  readonly kind: ReadViolationKind;
  /** The reader. */
  readonly node: NodeId;
  readonly query: RecallQuery;
  readonly invokedAt: number;
  readonly visibility: { readonly visible: number; readonly total: number } | undefined;
  readonly warning: string | undefined;
  readonly missing: MemoryId;
  /** What made it expected: the witness write, or the earlier recall that returned it. */
  readonly because: string;
  /** Stale reads: how long the witness write had been due (since its ack or the last heal). */
  readonly lagMs?: number;
}

export interface ReadReport {
  /** Recalls that answered. */
  readonly recalls: number;
  /** Of those, how many carried the partial-visibility warning. */
  readonly recallsWithWarning: number;
  /** Recalls that returned as many results as their limit: their misses are not judged. */
  readonly recallsTruncated: number;
  /**
   * Recalls each check applied to: with an acknowledged write of its own node before it; after
   * an earlier recall on its node returned something; at full visibility in a whole cluster with
   * some write due for longer than staleAfterMs. A pass over none would mean nothing.
   */
  readonly readsJudged: { readonly readYourWrites: number; readonly monotonic: number; readonly stale: number };
  /** Recalls that missed a memory their node had itself acknowledged writing. */
  readonly readYourWritesViolations: number;
  /** Recalls that missed a memory an earlier recall on the same node returned. */
  readonly monotonicReadViolations: number;
  /** Recalls without the warning that missed a write due for longer than staleAfterMs. */
  readonly staleReads: number;
  /** The longest a missed write had been due, over the stale reads; null if none. */
  readonly worstStaleLagMs: number | null;
  readonly staleAfterMs: number;
  /** Recalls without the warning that missed a write due for staleAfterMs or less (allowed). */
  readonly laggingReads: number;
  readonly worstLagWithinBoundMs: number | null;
  /** The first violations of each kind (maxExamples in all). */
  readonly readViolations: readonly ReadViolation[];
}

/**
 * Whether a version with this content and these tags matches a query: recall's rule (every tag
 * present, every word in the content or the tags, case-insensitive), restated here because the
 * checker asks it of every write for every query. A property test holds it to recall itself.
 */
export function matchesQuery(content: string, tags: readonly string[], query: RecallQuery): boolean {
  const lowerTags = tags.map((tag) => tag.toLowerCase());
  if (!(query.tags ?? []).every((tag) => lowerTags.includes(tag.toLowerCase()))) return false;
  const words = (query.text ?? '').toLowerCase().split(/\s+/).filter((word) => word.length > 0);
  const haystack = `${content.toLowerCase()} ${lowerTags.join(' ')}`;
  return words.every((word) => haystack.includes(word));
}

/** Which writes match which queries, remembered: a history asks the same few queries many times. */
class QueryMatcher {
  /** Verdicts per query (text and tags), per write. */
  private readonly cache = new Map<string, Map<Operation, boolean>>();
  /** Per query, the acknowledged writes (in ack order) that match it: the candidate witnesses. */
  private readonly witnesses = new Map<string, Operation[]>();

  constructor(private readonly acknowledged: readonly Operation[]) {}

  /** A matcher for one query: look it up once per recall, then ask it about many writes. */
  forQuery(query: RecallQuery): { matches: (write: Operation) => boolean; witnesses: readonly Operation[] } {
    const key = JSON.stringify([query.text ?? '', query.tags ?? []]);
    let verdicts = this.cache.get(key);
    if (!verdicts) this.cache.set(key, (verdicts = new Map()));
    const known = verdicts;
    const matches = (write: Operation) => {
      let verdict = known.get(write);
      if (verdict === undefined) known.set(write, (verdict = write.kind === 'remember' && matchesQuery(write.content ?? '', write.tags, query)));
      return verdict;
    };
    let witnesses = this.witnesses.get(key);
    if (!witnesses) this.witnesses.set(key, (witnesses = this.acknowledged.filter(matches)));
    return { matches, witnesses };
  }
}

/** Whether writer `witness` had seen `other` when it wrote, so its version supersedes other's. */
function seenBy(witness: Operation, other: Operation): boolean {
  if (other.dot && witness.context && covers(witness.context, other.dot)) return true;
  // Writes on one node are serialised: one acknowledged before the witness began is in the record it wrote over.
  return other.node === witness.node && other.outcome === 'ok' && (other.ackedAt as number) <= witness.invokedAt;
}

function describeWrite(write: Operation): string {
  return `${write.kind} ${write.dot ? dotKey(write.dot) : '?'} acknowledged on ${write.node} at ${write.ackedAt}`;
}

/** When the cluster last became whole at or before `at`: -Infinity if never faulted, undefined if a fault is in force. */
function wholeSince(faults: readonly FaultEvent[], at: number): number | undefined {
  let low = 0;
  let high = faults.length;
  while (low < high) {
    const middle = (low + high) >> 1;
    if ((faults[middle] as FaultEvent).at <= at) low = middle + 1;
    else high = middle;
  }
  const last = faults[low - 1];
  if (last === undefined) return -Infinity;
  return last.faulted ? undefined : last.at;
}

/** Judges every answered recall in the history: see the module comment for what counts. */
export function checkReads(history: History, options: ReadCheckOptions = {}): ReadReport {
  const staleAfterMs = options.staleAfterMs ?? staleAfterMsFor(DEFAULT_CONFIG);
  const maxExamples = options.maxExamples ?? 20;
  const faults = [...history.faults].sort((a, b) => a.at - b.at);

  // Every write to each memory, whatever its outcome, in invocation order.
  const writesOf = new Map<MemoryId, Operation[]>();
  for (const write of history.operations) {
    const id = write.ackedId ?? write.id;
    if (id === undefined) continue;
    let writes = writesOf.get(id);
    if (!writes) writesOf.set(id, (writes = []));
    writes.push(write);
  }
  for (const writes of writesOf.values()) writes.sort((a, b) => a.invokedAt - b.invokedAt);
  // Acknowledged writes by ack time: the witnesses.
  const acknowledged = history.acknowledged().sort((a, b) => (a.ackedAt as number) - (b.ackedAt as number));
  const matcher = new QueryMatcher(acknowledged);

  /** Whether every version of `id` that may be visible to `read`, other than those `witness` had seen, matches. */
  const othersMatch = (id: MemoryId, read: RecallOperation, matches: (write: Operation) => boolean, witness: Operation | undefined): boolean => {
    for (const other of writesOf.get(id) ?? []) {
      if (other.invokedAt >= (read.completedAt as number)) break;
      if (other === witness || (witness && seenBy(witness, other))) continue;
      if (!matches(other)) return false;
    }
    return true;
  };
  const expectedBy = (witness: Operation, read: RecallOperation, matches: (write: Operation) => boolean): boolean =>
    matches(witness) && othersMatch(witness.ackedId as MemoryId, read, matches, witness);

  const judged = { readYourWrites: 0, monotonic: 0, stale: 0 };
  const violations: ReadViolation[] = [];
  const counts = { readYourWrites: 0, monotonic: 0, stale: 0, lagging: 0 };
  let worstStaleLagMs: number | null = null;
  let worstLagWithinBoundMs: number | null = null;
  let recallsWithWarning = 0;
  let recallsTruncated = 0;

  const answered = history.recalls.filter((read) => read.outcome === 'ok');
  const byNode = new Map<NodeId, RecallOperation[]>();
  for (const read of answered) {
    if (read.warning !== undefined) recallsWithWarning++;
    let reads = byNode.get(read.node);
    if (!reads) byNode.set(read.node, (reads = []));
    reads.push(read);
  }

  for (const [node, reads] of byNode) {
    reads.sort((a, b) => a.invokedAt - b.invokedAt);
    const ownWrites = acknowledged.filter((write) => write.node === node);
    const byCompletion = [...reads].sort((a, b) => (a.completedAt as number) - (b.completedAt as number));
    /** This node's latest acknowledged write of each memory so far: it has seen all the node's earlier ones. */
    const ownLatest = new Map<MemoryId, Operation>();
    /** Memories an earlier recall on this node returned. */
    const returnedBefore = new Set<MemoryId>();
    let nextOwn = 0;
    let nextCompleted = 0;

    for (const read of reads) {
      while (nextOwn < ownWrites.length && ((ownWrites[nextOwn] as Operation).ackedAt as number) <= read.invokedAt) {
        const write = ownWrites[nextOwn++] as Operation;
        ownLatest.set(write.ackedId as MemoryId, write);
      }
      while (nextCompleted < byCompletion.length && ((byCompletion[nextCompleted] as RecallOperation).completedAt as number) <= read.invokedAt) {
        for (const id of (byCompletion[nextCompleted++] as RecallOperation).ids ?? []) returnedBefore.add(id);
      }
      const ids = read.ids ?? [];
      if (ids.length >= (read.query.limit ?? 20)) {
        recallsTruncated++;
        continue;
      }
      const returned = new Set(ids);
      const { matches, witnesses } = matcher.forQuery(read.query);
      const report = (kind: ReadViolationKind, missing: MemoryId, because: string, lagMs?: number) => {
        if (violations.filter((violation) => violation.kind === kind).length >= Math.ceil(maxExamples / 3)) return;
        violations.push({
          kind,
          node,
          query: read.query,
          invokedAt: read.invokedAt,
          visibility: read.visibility,
          warning: read.warning,
          missing,
          because,
          ...(lagMs === undefined ? {} : { lagMs }),
        });
      };

      // Only misses need judging: a returned memory is never a violation.
      let readYourWritesMissed = false;
      const flagged = new Set<MemoryId>();
      if (ownLatest.size > 0) judged.readYourWrites++;
      for (const [id, write] of ownLatest) {
        if (returned.has(id) || !expectedBy(write, read, matches)) continue;
        readYourWritesMissed = true;
        flagged.add(id);
        report('read-your-writes', id, describeWrite(write));
      }
      if (readYourWritesMissed) counts.readYourWrites++;

      let monotonicMissed = false;
      if (returnedBefore.size > 0) judged.monotonic++;
      for (const id of returnedBefore) {
        if (returned.has(id) || flagged.has(id) || !othersMatch(id, read, matches, undefined)) continue;
        monotonicMissed = true;
        flagged.add(id);
        report('monotonic-read', id, `returned by an earlier recall on ${node}`);
      }
      if (monotonicMissed) counts.monotonic++;

      const whole = wholeSince(faults, read.invokedAt);
      const fullVisibility = read.warning === undefined && read.visibility !== undefined && read.visibility.visible >= read.visibility.total;
      if (!fullVisibility || whole === undefined) continue;
      const oldest = acknowledged[0];
      if (oldest && read.invokedAt - Math.max(oldest.ackedAt as number, whole) > staleAfterMs) judged.stale++;
      // The oldest witness that makes each missed memory expected: its lag is the memory's.
      const due = new Map<MemoryId, { witness: Operation; lagMs: number }>();
      for (const write of witnesses) {
        if ((write.ackedAt as number) > read.invokedAt) break;
        const id = write.ackedId as MemoryId;
        if (returned.has(id) || flagged.has(id) || due.has(id) || !othersMatch(id, read, matches, write)) continue;
        due.set(id, { witness: write, lagMs: read.invokedAt - Math.max(write.ackedAt as number, whole) });
      }
      let worstStale: number | null = null;
      let worstLagging: number | null = null;
      for (const [id, { witness, lagMs }] of due) {
        if (lagMs > staleAfterMs) {
          worstStale = Math.max(worstStale ?? 0, lagMs);
          report('stale-read', id, describeWrite(witness), lagMs);
        } else {
          worstLagging = Math.max(worstLagging ?? 0, lagMs);
        }
      }
      if (worstStale !== null) {
        counts.stale++;
        worstStaleLagMs = Math.max(worstStaleLagMs ?? 0, worstStale);
      }
      if (worstLagging !== null) {
        counts.lagging++;
        worstLagWithinBoundMs = Math.max(worstLagWithinBoundMs ?? 0, worstLagging);
      }
    }
  }

  return {
    recalls: answered.length,
    recallsWithWarning,
    recallsTruncated,
    readsJudged: judged,
    readYourWritesViolations: counts.readYourWrites,
    monotonicReadViolations: counts.monotonic,
    staleReads: counts.stale,
    worstStaleLagMs,
    staleAfterMs,
    laggingReads: counts.lagging,
    worstLagWithinBoundMs,
    readViolations: violations,
  };
}

// ---------------------------------------------------------------- hostile members

/** The verdict on the honest replicas of a run with hostile members (sim scenario `hostile`). */
export interface HonestReport {
  /** Acknowledged writes of honest nodes. */
  readonly acknowledged: number;
  /** Of those, how many some honest replica does not keep (provenance.ts: a lie that covers a write does not keep it). */
  readonly lostWrites: number;
  readonly lostEverywhere: number;
  readonly lost: readonly LostWrite[];
  /** Equal Merkle roots and equal records on every honest replica. */
  readonly converged: boolean;
  readonly distinctRoots: number;
  readonly divergentRecords: number;
}

/**
 * Judges only the honest replicas, with a Provenance that knows which versions are genuine: a
 * write is kept on a replica if it holds the write itself or a version that legitimately stands
 * for it (provenance.ts says what is sound). Conflicts and reads are not judged: a hostile member
 * may legitimately write concurrent versions and tombstones of anything it has seen.
 */
export function checkHonestReplicas(history: History, replicas: readonly ReplicaSnapshot[], provenance: Provenance): HonestReport {
  const honest = new Set(replicas.map((replica) => replica.id));
  const acknowledged = history.acknowledged().filter((operation) => honest.has(operation.node));
  const byId = replicas.map((replica) => new Map(replica.records.map((record) => [record.id, record])));
  const lost: LostWrite[] = [];
  let lostEverywhere = 0;
  for (const operation of acknowledged) {
    const id = operation.ackedId as MemoryId;
    const dot = operation.dot as Dot;
    const missingOn = replicas.filter((_, i) => !provenance.keeps(byId[i]?.get(id), dot)).map((replica) => replica.id);
    if (missingOn.length === 0) continue;
    lost.push({ id, dot: dotKey(dot), writtenOn: operation.node, missingOn });
    if (missingOn.length === replicas.length) lostEverywhere++;
  }
  const union = unionOf(replicas);
  let divergentRecords = 0;
  for (const [id, record] of union) {
    const digest = toHex(recordDigest(record));
    if (byId.some((own) => !own.has(id) || toHex(recordDigest(own.get(id) as MemoryRecord)) !== digest)) divergentRecords++;
  }
  const roots = new Set(replicas.map((replica) => replica.merkleRoot));
  return {
    acknowledged: acknowledged.length,
    lostWrites: lost.length,
    lostEverywhere,
    lost: lost.slice(0, 20),
    converged: roots.size <= 1 && divergentRecords === 0,
    distinctRoots: roots.size,
    divergentRecords,
  };
}
